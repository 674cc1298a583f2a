package schemaregistry

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"

	tavro "github.com/tributary-cdc/tributary/transform/avro"
)

// Client registers schemas and caches their ids. It is safe for concurrent
// use: the sources of one daemon share it.
type Client struct {
	key      string // the config key, for messages
	url      string
	user     string
	cfg      Config
	reg      *registry.Client
	attempts int
	backoff  time.Duration

	mu     sync.Mutex
	ids    map[idKey]int
	compat map[string]bool // subjects whose compatibility this process set
	apis   map[int]avro.API
}

type idKey struct{ subject, schema string }

// New returns a Client for cfg, reading the basic-auth password now. key is
// the config block's key, used in error messages.
func New(cfg Config, key string) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(key); err != nil {
		return nil, err
	}
	password, err := cfg.BasicAuth.password(key)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS.files().Set() || cfg.TLS.ServerName != "" {
		if transport.TLSClientConfig, err = cfg.TLS.config(key); err != nil {
			return nil, err
		}
	}
	opts := []registry.ClientFunc{registry.WithHTTPClient(&http.Client{Transport: transport, Timeout: cfg.Timeout})}
	if cfg.BasicAuth.Username != "" {
		opts = append(opts, registry.WithBasicAuth(cfg.BasicAuth.Username, password))
	}
	reg, err := registry.NewClient(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s.url: %w", key, err)
	}
	return &Client{
		key: key, url: redactURL(cfg.URL), user: cfg.BasicAuth.Username, cfg: cfg, reg: reg,
		attempts: 4, backoff: 250 * time.Millisecond,
		ids: map[idKey]int{}, compat: map[string]bool{}, apis: map[int]avro.API{},
	}, nil
}

// OnIncompatible is the configured reaction to a rejected schema.
func (c *Client) OnIncompatible() OnIncompatible { return c.cfg.OnIncompatible }

// Subject is the subject of a key (isKey) or value schema whose record is
// record, written to topic, under the configured strategy.
func (c *Client) Subject(topic, record string, isKey bool) string {
	switch c.cfg.SubjectStrategy {
	case SubjectRecord:
		return record
	case SubjectTopicRecord:
		return topic + "-" + record
	}
	if isKey {
		return topic + "-key"
	}
	return topic + "-value"
}

// IncompatibleError is the registry's refusal of a schema as incompatible
// with the subject's earlier versions (HTTP 409), with its reason.
type IncompatibleError struct {
	Subject string
	Reason  string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("the schema registry rejected the new schema of subject %s as incompatible: %s", e.Subject, e.Reason)
}

// PermanentError is a refusal that retrying cannot change: credentials,
// the URL, an invalid schema.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string   { return e.Err.Error() }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Permanent() bool { return true }

// Register returns the id of schema under subject, registering it (and
// first setting the subject's compatibility, when configured) unless this
// process already did. Network failures and server errors are retried a few
// times with backoff; if the registry stays away the error is retryable
// (the pipeline restarts from its checkpoint, with backoff, and is not
// ready meanwhile). Errors are *IncompatibleError, *PermanentError or
// retryable.
func (c *Client) Register(ctx context.Context, subject, schema string) (int, error) {
	k := idKey{subject, schema}
	c.mu.Lock()
	id, ok := c.ids[k]
	compatDone := c.compat[subject]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	if c.cfg.Compatibility != "" && !compatDone {
		if err := c.retry(ctx, "set the compatibility of subject "+subject, func() error {
			return c.reg.SetCompatibilityLevel(ctx, subject, c.cfg.Compatibility)
		}); err != nil {
			return 0, err
		}
		c.mu.Lock()
		c.compat[subject] = true
		c.mu.Unlock()
	}
	err := c.retry(ctx, "register a schema under subject "+subject, func() error {
		var err error
		id, _, err = c.reg.CreateSchema(ctx, subject, schema)
		return err
	})
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.ids[k] = id
	c.mu.Unlock()
	return id, nil
}

func (c *Client) retry(ctx context.Context, what string, f func() error) error {
	wait := c.backoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = c.classify(what, f()); err == nil {
			return nil
		}
		var perm *PermanentError
		var incompatible *IncompatibleError
		if errors.As(err, &perm) || errors.As(err, &incompatible) || attempt >= c.attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// classify turns a registry client error into this package's kinds. The
// registry's own message is quoted; credentials never are.
func (c *Client) classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var re registry.Error
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: the schema registry at %s is unreachable: %w", what, c.url, err)
	}
	switch {
	case re.StatusCode == http.StatusConflict:
		return &IncompatibleError{Subject: subjectOf(what), Reason: re.Error()}
	case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
		who := "without credentials; set " + c.key + ".basic_auth"
		if c.user != "" {
			who = "with the credentials of " + c.key + ".basic_auth (username " + c.user + ")"
		}
		return &PermanentError{Err: fmt.Errorf("%s: the schema registry at %s refused the request %s: HTTP %d %s",
			what, c.url, who, re.StatusCode, http.StatusText(re.StatusCode))}
	case re.StatusCode == http.StatusNotFound:
		return &PermanentError{Err: fmt.Errorf("%s: HTTP 404 from %s (%s): is %s.url the Confluent-compatible API (Apicurio: …/apis/ccompat/v7)?", what, c.url, re.Error(), c.key)}
	case re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s: the schema registry at %s failed: HTTP %d: %s", what, c.url, re.StatusCode, re.Error())
	}
	return &PermanentError{Err: fmt.Errorf("%s: the schema registry at %s refused it: HTTP %d: %s", what, c.url, re.StatusCode, re.Error())}
}

func subjectOf(what string) string {
	const marker = "subject "
	for i := len(what) - len(marker); i >= 0; i-- {
		if what[i:i+len(marker)] == marker {
			return what[i+len(marker):]
		}
	}
	return what
}

// Schema returns the schema registered with id (cached by the client).
func (c *Client) Schema(ctx context.Context, id int) (avro.Schema, error) {
	s, err := c.reg.GetSchema(ctx, id)
	if err != nil {
		return nil, c.classify(fmt.Sprintf("fetch schema %d", id), err)
	}
	return s, nil
}

// Decode decodes a Confluent wire-format message (magic byte 0, 4-byte
// big-endian schema id, Avro binary body) into generic values with the
// schema the registry has under its id.
func (c *Client) Decode(ctx context.Context, msg []byte) (value any, id int, err error) {
	id, body, err := SplitFrame(msg)
	if err != nil {
		return nil, 0, err
	}
	s, err := c.Schema(ctx, id)
	if err != nil {
		return nil, id, err
	}
	if err := c.api(id).Unmarshal(s, body, &value); err != nil {
		return nil, id, fmt.Errorf("decode Avro body with schema %d: %w", id, err)
	}
	return value, id, nil
}

// IsAvro reports whether msg is in the Confluent wire format (a JSON event
// starts with '{').
func IsAvro(msg []byte) bool { return len(msg) >= 5 && msg[0] == 0 }

// CanonicalJSON decodes a Tributary native-flavour Avro message through
// the registry and writes it as the JSON format writes the same event.
func (c *Client) CanonicalJSON(ctx context.Context, msg []byte) ([]byte, error) {
	v, id, err := c.Decode(ctx, msg)
	if err != nil {
		return nil, err
	}
	s, err := c.Schema(ctx, id)
	if err != nil {
		return nil, err
	}
	rec, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %d: not a record", id)
	}
	if _, isKey := rec["op"]; !isKey {
		out, err := tavro.CanonicalKeyJSON(s, rec)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		return out, nil
	}
	out, err := tavro.CanonicalJSON(s, rec)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return out, nil
}

// ReadableJSON is CanonicalJSON for Tributary's native events and keys,
// and for any other record (Debezium's envelope) its generic decoding as
// JSON (bytes as base64, decimals as exact strings), for people to read.
func (c *Client) ReadableJSON(ctx context.Context, msg []byte) ([]byte, error) {
	out, err := c.CanonicalJSON(ctx, msg)
	if err == nil {
		return out, nil
	}
	v, _, derr := c.Decode(ctx, msg)
	if derr != nil {
		return nil, derr
	}
	b, merr := json.Marshal(readable(v))
	if merr != nil {
		return nil, err
	}
	return b, nil
}

// readable makes decoded values encoding/json-friendly.
func readable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = readable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = readable(e)
		}
		return out
	case *big.Rat:
		return x.RatString()
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
	}
	return v
}

// api is the decoding configuration of schema id. Each id has its own:
// hamba/avro caches codecs by fingerprint, and a record referenced by name
// has the same fingerprint in every version of a table.
func (c *Client) api(id int) avro.API {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.apis[id]
	if !ok {
		a = avro.Config{}.Freeze()
		c.apis[id] = a
	}
	return a
}

// Frame is the Confluent wire format of body written with schema id.
func Frame(id int, body []byte) []byte {
	out := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(out[1:], uint32(id))
	return append(out, body...)
}

// SplitFrame returns a wire-format message's schema id and body.
func SplitFrame(msg []byte) (int, []byte, error) {
	if len(msg) < 5 || msg[0] != 0 {
		return 0, nil, errors.New("not a schema-registry Avro message (want magic byte 0 and a 4-byte schema id)")
	}
	return int(binary.BigEndian.Uint32(msg[1:5])), msg[5:], nil
}
