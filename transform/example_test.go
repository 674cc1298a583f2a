package transform_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

func ExampleBuild() {
	table := &capture.Table{
		Database: "shop",
		Name:     "users",
		Columns: []capture.Column{
			{Name: "id", Type: "bigint"}, {Name: "email", Type: "varchar(255)"},
			{Name: "balance", Type: "decimal(10,2)"}, {Name: "bio", Type: "text"},
		},
		Key: []int{0},
	}
	c := &capture.Change{
		Op:            capture.OpUpdate,
		Table:         table,
		Before:        []any{int64(42), "ada@example.com", "10.00", capture.Absent},
		After:         []any{int64(42), "ada@example.com", "12.50", capture.Absent},
		Position:      "binlog.000003:1000",
		EventPosition: "binlog.000003:1200",
		RowIndex:      0,
		ServerID:      1,
		GTID:          "3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
		CommitTime:    time.Unix(1706745599, 0),
	}
	evs, err := transform.Build("main", transform.ConnectorMySQL, c, time.UnixMilli(1706745599412))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range evs {
		b, err := evs[i].AppendJSON(nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		var out bytes.Buffer
		_ = json.Indent(&out, b, "", "  ")
		fmt.Println(out.String())
		fmt.Println("topic:", transform.TopicName("cdc", "main", table.Database, table.Name))
		fmt.Printf("key: %s\n", transform.EncodeKey(&evs[i]))
	}
	// Output:
	// {
	//   "id": "main:binlog.000003:1200#0",
	//   "op": "u",
	//   "key": {
	//     "id": 42
	//   },
	//   "before": {
	//     "id": 42,
	//     "email": "ada@example.com",
	//     "balance": "10.00"
	//   },
	//   "after": {
	//     "id": 42,
	//     "email": "ada@example.com",
	//     "balance": "12.50"
	//   },
	//   "absent": {
	//     "before": [
	//       "bio"
	//     ],
	//     "after": [
	//       "bio"
	//     ]
	//   },
	//   "source": {
	//     "connector": "mysql",
	//     "name": "main",
	//     "server_id": 1,
	//     "database": "shop",
	//     "table": "users",
	//     "position": "binlog.000003:1000",
	//     "gtid": "3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
	//     "ts_ms": 1706745599000,
	//     "snapshot": false
	//   },
	//   "ts_ms": 1706745599412
	// }
	// topic: cdc.main.shop.users
	// key: {"id":42}
}
