package debezium

import (
	"bytes"
	"encoding/json"
)

// connectSchema is a Kafka Connect schema as JsonConverter writes it with
// schemas.enable=true. The field order matches JsonConverter's: type,
// items/fields, optional, name, version, doc, parameters, default, field.
type connectSchema struct {
	Type       string            `json:"type"`
	Items      *connectSchema    `json:"items,omitempty"`
	Fields     []connectSchema   `json:"fields,omitempty"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name,omitempty"`
	Version    int               `json:"version,omitempty"`
	Doc        string            `json:"doc,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"` // at most one key: order is not an issue
	Default    any               `json:"default,omitempty"`
	Field      string            `json:"field,omitempty"`
}

// Connect primitive type names.
const (
	typeBoolean = "boolean"
	typeInt16   = "int16"
	typeInt32   = "int32"
	typeInt64   = "int64"
	typeFloat32 = "float"
	typeFloat64 = "double"
	typeString  = "string"
	typeBytes   = "bytes"
	typeArray   = "array"
	typeStruct  = "struct"
)

func field(name, typ string, optional bool) connectSchema {
	return connectSchema{Type: typ, Optional: optional, Field: name}
}

// marshalSchema encodes s without HTML escaping (column names may hold <>&).
func marshalSchema(s connectSchema) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		// connectSchema holds only strings, ints and bools.
		panic("debezium: marshal schema: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// snapshotAllowed is the io.debezium.data.Enum of source.snapshot in
// Debezium 3.x.
const snapshotAllowed = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"

// sourceSchema is the schema of the source block of o's connector.
func sourceSchema(o Options) connectSchema {
	fields := []connectSchema{
		field("version", typeString, false),
		field("connector", typeString, false),
		field("name", typeString, false),
		field("ts_ms", typeInt64, false),
		{
			Type: typeString, Optional: true, Name: "io.debezium.data.Enum", Version: 1,
			Parameters: map[string]string{"allowed": snapshotAllowed}, Default: "false", Field: "snapshot",
		},
		field("db", typeString, false),
		field("sequence", typeString, true),
		field("ts_us", typeInt64, true),
		field("ts_ns", typeInt64, true),
	}
	if o.postgres() {
		fields = append(fields,
			field("schema", typeString, false),
			field("table", typeString, false),
			field("txId", typeInt64, true),
			field("lsn", typeInt64, true),
			field("xmin", typeInt64, true),
			field("origin", typeString, true),
			field("origin_lsn", typeInt64, true),
		)
	} else {
		fields = append(fields,
			field("table", typeString, true),
			field("server_id", typeInt64, false),
			field("gtid", typeString, true),
			field("file", typeString, false),
			field("pos", typeInt64, false),
			field("row", typeInt32, false),
			field("thread", typeInt64, true),
			field("query", typeString, true),
		)
	}
	return connectSchema{
		Type: typeStruct, Fields: fields, Name: "io.debezium.connector." + o.ConnectorName + ".Source",
		Version: 1, Field: "source",
	}
}

// transactionSchema is Debezium's transaction block; Tributary writes it as
// null (provide.transaction.metadata=false).
var transactionSchema = connectSchema{
	Type: typeStruct,
	Fields: []connectSchema{
		field("id", typeString, false),
		field("total_order", typeInt64, false),
		field("data_collection_order", typeInt64, false),
	},
	Optional: true, Name: "event.block", Version: 1, Field: "transaction",
}

// envelopeSchema is the value schema of a table whose row struct is row.
func envelopeSchema(o Options, recordName string, row []connectSchema) connectSchema {
	image := func(name string) connectSchema {
		return connectSchema{Type: typeStruct, Fields: row, Optional: true, Name: recordName + ".Value", Field: name}
	}
	return connectSchema{
		Type: typeStruct,
		Fields: []connectSchema{
			image("before"),
			image("after"),
			sourceSchema(o),
			transactionSchema,
			field("op", typeString, false),
			field("ts_ms", typeInt64, true),
			field("ts_us", typeInt64, true),
			field("ts_ns", typeInt64, true),
		},
		Name:    recordName + ".Envelope",
		Version: 2,
	}
}

// keySchema is the key schema of a table whose key struct is key.
func keySchema(recordName string, key []connectSchema) connectSchema {
	return connectSchema{Type: typeStruct, Fields: key, Name: recordName + ".Key"}
}
