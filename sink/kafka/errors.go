package kafkasink

import (
	"errors"
	"fmt"
)

// ErrPermanent marks errors that a restart will not fix: errors.Is(err,
// ErrPermanent) tells the pipeline to stop instead of retrying from the
// checkpoint.
var ErrPermanent = errors.New("permanent sink error")

// OversizedError is returned (in halt mode) for a message larger than its
// topic accepts. It is permanent: the same message would fail again.
type OversizedError struct {
	Topic    string
	Describe string // the message's Describe (table, key); never its value
	Seq      uint64
	Size     int // estimated record size in bytes
	Limit    int // the limit it exceeds
	// LimitFrom names the setting that gave Limit, e.g. "max.message.bytes".
	LimitFrom string
}

func (e *OversizedError) Error() string {
	return fmt.Sprintf("message %s for topic %s is %d bytes, over the %d byte limit (%s); raise the limit or set kafka.on_oversized: dead_letter",
		e.Describe, e.Topic, e.Size, e.Limit, e.LimitFrom)
}

// Permanent reports true: retrying will not shrink the message.
func (e *OversizedError) Permanent() bool { return true }

// Is makes errors.Is(err, ErrPermanent) true.
func (e *OversizedError) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether err (or an error it wraps) is permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
