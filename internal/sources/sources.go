// Package sources links the source kinds this program supports into the
// capture registry. Importing it (the configuration does) makes every kind
// available; a new kind is a capture/<kind> package with a
// capture.Registration and one line here.
package sources

import (
	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/capture/postgres"
)

func init() {
	capture.Register(mysql.Kind, mysql.Registration)
	capture.Register(postgres.Kind, postgres.Registration)
}
