package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// ServerIdentity says which server wrote a binlog: its server_id and, on
// MySQL, its server_uuid; on MariaDB the GTID domain it writes in (logged
// when it changes: a promoted server in another domain starts a new
// stream of sequence numbers). Positions carry it, so a resume notices a
// different server behind the same or another address.
type ServerIdentity struct {
	ServerID uint32
	UUID     string // MySQL's server_uuid; "" on MariaDB
	Domain   string // MariaDB's gtid_domain_id; "" on MySQL or unknown
}

// serverSep introduces a position's server identity.
const serverSep = ";"

// Known reports whether the identity was recorded.
func (id ServerIdentity) Known() bool { return id.ServerID != 0 || id.UUID != "" }

// Same reports whether id and o name the same server: by server_uuid when
// both have one, else by server_id (replicas of one topology must have
// distinct server_ids).
func (id ServerIdentity) Same(o ServerIdentity) bool {
	if id.UUID != "" && o.UUID != "" {
		return strings.EqualFold(id.UUID, o.UUID)
	}
	return id.ServerID == o.ServerID
}

// String is the identity for messages: "server_id=11 gtid_domain_id=0".
func (id ServerIdentity) String() string {
	return strings.ReplaceAll(strings.TrimPrefix(id.suffix(), serverSep), serverSep, " ")
}

// suffix is the identity as positions carry it:
// ";server_id=11;gtid_domain_id=0" or ";server_id=3;server_uuid=…".
func (id ServerIdentity) suffix() string {
	s := serverSep + "server_id=" + strconv.FormatUint(uint64(id.ServerID), 10)
	if id.UUID != "" {
		s += serverSep + "server_uuid=" + id.UUID
	}
	if id.Domain != "" {
		s += serverSep + "gtid_domain_id=" + id.Domain
	}
	return s
}

// parseServerIdentity reads suffix's form without its first separator;
// unknown keys are refused, so a typo in a rewritten checkpoint shows.
func parseServerIdentity(s string) (ServerIdentity, error) {
	var id ServerIdentity
	if s == "" {
		return id, nil
	}
	for _, kv := range strings.Split(s, serverSep) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "server_id":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return id, fmt.Errorf("server identity: server_id %q: %w", v, err)
			}
			id.ServerID = uint32(n)
		case "server_uuid":
			id.UUID = v
		case "gtid_domain_id":
			id.Domain = v
		default:
			return id, fmt.Errorf("server identity: unknown key %q (want server_id, server_uuid, gtid_domain_id)", k)
		}
	}
	return id, nil
}

// serverIdentity reads the identity of the server db is connected to.
func (s *Source) serverIdentity(ctx context.Context, db *sql.DB) (ServerIdentity, error) {
	var id ServerIdentity
	var err error
	if s.cfg.Flavor == FlavorMariaDB {
		err = db.QueryRowContext(ctx, "SELECT @@server_id, @@gtid_domain_id").Scan(&id.ServerID, &id.Domain)
	} else {
		err = db.QueryRowContext(ctx, "SELECT @@server_id, @@server_uuid").Scan(&id.ServerID, &id.UUID)
	}
	if err != nil {
		return id, fmt.Errorf("read the server identity of %s: %w", s.addr(), err)
	}
	return id, nil
}
