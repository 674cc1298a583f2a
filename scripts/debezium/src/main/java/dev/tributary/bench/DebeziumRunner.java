package dev.tributary.bench;

import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.debezium.embedded.Connect;
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * Runs one Debezium connector in the embedded engine and produces its change
 * events as JSON (JsonConverter, schemas.enable=false) to Kafka with acks=all.
 *
 * <p>Usage: {@code DebeziumRunner engine.properties}. Keys starting with
 * {@code producer.} configure the KafkaProducer (without the prefix); every
 * other key goes to the engine and connector.
 *
 * <p>Delivery contract, as Debezium Server's Kafka sink does it: a batch's
 * records are all sent, the batch waits for every ack, and only then are the
 * records marked processed, so the offsets the engine flushes to its offset
 * file never pass an unacknowledged event. SIGTERM closes the engine (which
 * commits processed offsets) and the producer, then exits 0; a connector
 * failure exits 1 with its message on stderr.
 */
public final class DebeziumRunner {
    private static final String HEARTBEAT_TOPIC_PREFIX = "__debezium-heartbeat";

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: DebeziumRunner engine.properties");
            System.exit(2);
        }
        Properties all = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            all.load(in);
        }
        Properties engineProps = new Properties();
        Properties producerProps = new Properties();
        for (String k : all.stringPropertyNames()) {
            if (k.startsWith("producer.")) {
                producerProps.setProperty(k.substring("producer.".length()), all.getProperty(k));
            } else {
                engineProps.setProperty(k, all.getProperty(k));
            }
        }
        producerProps.put(ProducerConfig.ACKS_CONFIG, "all");
        producerProps.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producerProps.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());

        JsonConverter keys = new JsonConverter();
        keys.configure(Map.of("schemas.enable", "false"), true);
        JsonConverter values = new JsonConverter();
        values.configure(Map.of("schemas.enable", "false"), false);

        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps);
        AtomicReference<String> failure = new AtomicReference<>();
        CountDownLatch engineDone = new CountDownLatch(1);

        DebeziumEngine<RecordChangeEvent<SourceRecord>> engine = DebeziumEngine
                .create(ChangeEventFormat.of(Connect.class))
                .using(engineProps)
                .notifying((List<RecordChangeEvent<SourceRecord>> batch,
                        DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) -> {
                    sendBatch(producer, keys, values, batch);
                    for (RecordChangeEvent<SourceRecord> r : batch) {
                        committer.markProcessed(r);
                    }
                    committer.markBatchFinished();
                })
                .using((boolean success, String message, Throwable error) -> {
                    if (!success) {
                        failure.set(message + (error != null ? ": " + error : ""));
                    }
                    engineDone.countDown();
                })
                .build();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                engine.close();
                engineDone.await(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("debezium-runner: close: " + e);
            }
            producer.close();
            executor.shutdown();
        }));
        executor.execute(engine);
        engineDone.await();
        if (failure.get() != null) {
            System.err.println("debezium-runner: connector failed: " + failure.get());
            Runtime.getRuntime().halt(1);
        }
    }

    /** Sends every record of a batch and waits until Kafka acknowledged all of them. */
    private static void sendBatch(KafkaProducer<byte[], byte[]> producer, JsonConverter keys,
            JsonConverter values, List<RecordChangeEvent<SourceRecord>> batch) throws InterruptedException {
        List<SourceRecord> out = new ArrayList<>(batch.size());
        for (RecordChangeEvent<SourceRecord> e : batch) {
            SourceRecord r = e.record();
            // Heartbeats only carry offsets; their records are marked
            // processed (so offsets advance) but not produced.
            if (!r.topic().startsWith(HEARTBEAT_TOPIC_PREFIX)) {
                out.add(r);
            }
        }
        CountDownLatch acked = new CountDownLatch(out.size());
        AtomicReference<Exception> sendError = new AtomicReference<>();
        for (SourceRecord r : out) {
            byte[] k = r.key() == null ? null : keys.fromConnectData(r.topic(), r.keySchema(), r.key());
            byte[] v = r.value() == null ? null : values.fromConnectData(r.topic(), r.valueSchema(), r.value());
            producer.send(new ProducerRecord<>(r.topic(), null, k, v), (meta, err) -> {
                if (err != null) {
                    sendError.compareAndSet(null, err);
                }
                acked.countDown();
            });
        }
        acked.await();
        if (sendError.get() != null) {
            throw new IllegalStateException("produce failed", sendError.get());
        }
    }

    private DebeziumRunner() {}
}
