package debezium

import (
	"errors"
	"fmt"

	"github.com/tributary-cdc/tributary/transform"
)

// Debezium connector names, as written in source.connector and in the
// source schema name (io.debezium.connector.<name>.Source).
const (
	ConnectorMySQL      = "mysql"
	ConnectorMariaDB    = "mariadb"
	ConnectorPostgreSQL = "postgresql"
)

// BigintUnsignedMode mirrors Debezium's bigint.unsigned.handling.mode for
// MySQL/MariaDB BIGINT UNSIGNED columns.
type BigintUnsignedMode string

const (
	// BigintUnsignedLong (Debezium's default) writes an int64. Values above
	// 2^63-1 wrap to negative numbers, as Debezium's long mode does: the
	// bits are kept, the sign is not.
	BigintUnsignedLong BigintUnsignedMode = "long"
	// BigintUnsignedPrecise writes org.apache.kafka.connect.data.Decimal
	// with scale 0: JsonConverter's base64 of the two's-complement
	// big-endian bytes. Lossless, but consumers must decode it.
	BigintUnsignedPrecise BigintUnsignedMode = "precise"
)

// DefaultVersion is written as source.version when Options.Version is empty.
const DefaultVersion = "tributary"

// Options are the Debezium settings an encoding corresponds to. The zero
// value is usable for MySQL/MariaDB sources.
type Options struct {
	// Schemas mirrors JsonConverter's schemas.enable: when true, key and
	// value are {"schema":…,"payload":…}; when false only the payload.
	Schemas bool
	// ConnectorName is Debezium's connector name (ConnectorMySQL,
	// ConnectorMariaDB, ConnectorPostgreSQL). Empty derives it from the
	// event: mysql → "mysql", postgres → "postgresql". MariaDB sources
	// should set ConnectorMariaDB, as Debezium's MariaDB connector does.
	ConnectorName string
	// TopicPrefix is Debezium's topic.prefix: written as source.name and
	// used in schema names ("<prefix>.<db>.<table>.Value"). Empty uses the
	// Tributary source name. It does not choose the Kafka topic.
	TopicPrefix string
	// Database is PostgreSQL's database name, written as source.db
	// (Tributary's source.database is the schema). Required for PostgreSQL.
	Database string
	// Version is written as source.version; empty is DefaultVersion.
	Version string
	// BigintUnsigned selects the BIGINT UNSIGNED representation; empty is
	// BigintUnsignedLong.
	BigintUnsigned BigintUnsignedMode
}

// resolved returns the options with defaults applied for ev's source.
func (o Options) resolved(src *transform.Source) (Options, error) {
	want := ""
	switch src.Connector {
	case transform.ConnectorMySQL:
		want = ConnectorMySQL
		if o.ConnectorName == ConnectorMariaDB {
			want = ConnectorMariaDB
		}
	case transform.ConnectorPostgres:
		want = ConnectorPostgreSQL
	default:
		return o, fmt.Errorf("debezium: unknown source connector %q", src.Connector)
	}
	if o.ConnectorName != "" && o.ConnectorName != want {
		return o, fmt.Errorf("debezium: connector name %q does not fit a %s source", o.ConnectorName, src.Connector)
	}
	o.ConnectorName = want
	if o.TopicPrefix == "" {
		o.TopicPrefix = src.Name
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	switch o.BigintUnsigned {
	case "":
		o.BigintUnsigned = BigintUnsignedLong
	case BigintUnsignedLong, BigintUnsignedPrecise:
	default:
		return o, fmt.Errorf("debezium: bigint unsigned mode %q: want long or precise", o.BigintUnsigned)
	}
	if want == ConnectorPostgreSQL && o.Database == "" {
		return o, errors.New("debezium: Options.Database (source.db) is required for PostgreSQL sources")
	}
	return o, nil
}

func (o Options) postgres() bool { return o.ConnectorName == ConnectorPostgreSQL }
