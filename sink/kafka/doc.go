// Package kafkasink is the Kafka implementation of sink.Sink, built on
// segmentio/kafka-go's asynchronous Writer.
//
// # Delivery contract
//
// Write hands messages to kafka-go and returns; each message's fate is
// reported later through the sink.AckFunc given to New, from kafka-go's
// goroutines. An ack with a nil error means the broker acknowledged the
// message with acks=all. Delivery is at-least-once: after a failure the
// pipeline restarts from its last checkpoint and re-sends.
//
// # What kafka-go v0.4.49 guarantees about order (read from writer.go)
//
//   - One partitionWriter per topic-partition (Writer.batchMessages creates
//     it) owns a FIFO batchQueue and a single goroutine
//     (partitionWriter.writeBatches) that takes batches one at a time and
//     calls partitionWriter.writeBatch. Only one produce request per
//     partition is in flight, and retries happen inside writeBatch (sleeping
//     with backoff) before the next batch is taken. So retries by themselves
//     do not reorder batches of one partition.
//   - A retry after a produce that timed out on the client but was appended
//     by the broker writes the batch twice (kafka-go has no idempotent
//     producer): duplicates, in order, never a lost message.
//   - When writeBatch gives up (MaxAttempts exhausted, or a non-temporary
//     error such as MESSAGE_TOO_LARGE), it calls Completion(batch, err) and
//     writeBatches moves on to the next queued batch of the same partition.
//     A failed batch therefore does NOT hold back later batches: the topic
//     ends up with a gap followed by newer messages for the same keys.
//
// Because of the last point, the first failed completion makes the Sink
// failed: that completion's seqs are acked with the error, every later Write
// returns the error, and the writers' transport (fuseTransport) refuses every
// later produce request, so no batch queued behind the failed one reaches
// the broker. The pipeline restarts from its checkpoint, which never moved
// past an unacked seq, and re-sends from there: a key's messages appear in
// commit order, possibly followed by re-sent duplicates of a suffix of them,
// never with a later change before an earlier one.
//
// Messages are partitioned with kafka.Murmur2Balancer, the Java client's
// partitioner, so one key always lands on one partition and consumers see
// each key's messages in write order.
//
// # Oversized messages
//
// Kafka rejects a record batch larger than the topic's max.message.bytes.
// Before handing a message to kafka-go the Sink estimates its record size
// (uncompressed, plus record and batch overhead: a conservative estimate)
// and compares it with the smaller of the topic's max.message.bytes and
// kafka.batch_bytes. See Config.OnOversized for what happens then.
package kafkasink
