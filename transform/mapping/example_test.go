package mapping_test

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// Example shows how a pipeline handler uses a Mapper: Compile once at
// config load, then Apply per event, falling back to the usual topic and
// key for unmapped tables and sending row errors to a dead-letter topic.
func Example() {
	m, err := mapping.Compile([]mapping.Config{{
		Source: "crm",
		Table:  "crm.customers",
		Entity: "customer",
		Rename: map[string]string{"cust_nm": "full_name"},
		Mask:   map[string]mapping.Mask{"phone": {Kind: mapping.MaskKeepLast, N: 4}},
		Cast:   map[string]mapping.Cast{"is_vip": {To: mapping.CastBool}},
		Topic:  "canonical.customer",
	}}, os.LookupEnv, mapping.WithTopicPrefix("tributary"))
	if err != nil {
		fmt.Println(err)
		return
	}
	tab := &capture.Table{Database: "crm", Name: "customers", Key: []int{0},
		Columns: []capture.Column{{Name: "id"}, {Name: "cust_nm"}, {Name: "phone"}, {Name: "is_vip"}}}
	for _, vip := range []int64{1, 7} {
		evs, _ := transform.Build("crm", transform.ConnectorMySQL, &capture.Change{
			Op: capture.OpCreate, Table: tab, After: []any{int64(42), "Zoë", "+49 170 1234567", vip},
			Position: "bin.000001:4", EventPosition: "bin.000001:100",
		}, time.UnixMilli(0))
		ev := &evs[0]
		out, mapped, err := m.Apply(nil, "crm", ev)
		var rowErr *mapping.RowError
		switch {
		case errors.As(err, &rowErr):
			fmt.Printf("dead letter %s\n", mapping.DeadLetter(ev, rowErr))
		case err != nil:
			fmt.Println("stop the source:", err)
		case !mapped:
			fmt.Println("send ev as before")
		}
		for i := range out {
			value, _ := out[i].AppendJSON(nil)
			fmt.Printf("topic %s key %s\n%s\n", out[i].Topic, out[i].Key, value)
		}
	}
	// Output:
	// topic canonical.customer key {"source":"crm","id":42}
	// {"id":"crm:bin.000001:100#0","op":"c","entity":"customer","key":{"source":"crm","id":42},"before":null,"after":{"id":42,"full_name":"Zoë","phone":"***********4567","is_vip":true},"source":{"connector":"mysql","name":"crm","database":"crm","table":"customers","position":"bin.000001:4","ts_ms":0,"snapshot":false},"ts_ms":0}
	// dead letter {"kind":"mapping","reason":"want an integer 0 or 1, got another integer","rule":"cast.is_vip","table":"crm.customers","id":"crm:bin.000001:100#0","key":{"id":42},"event":{"id":"crm:bin.000001:100#0","op":"c","key":{"id":42},"before":null,"after":{"id":42,"cust_nm":"Zoë","phone":"***********4567","is_vip":7},"source":{"connector":"mysql","name":"crm","database":"crm","table":"customers","position":"bin.000001:4","ts_ms":0,"snapshot":false},"ts_ms":0}}
}
