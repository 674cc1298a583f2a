package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/cluster"
	"github.com/tributary-cdc/tributary/internal/config"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
)

const clusterUsage = `  cluster status -c config.yaml [--json]
                                     the cluster group's members, who owns
                                     which source, and each source's checkpoint
                                     in the checkpoint topic
`

func cmdCluster(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return fmt.Errorf("%w: cluster needs status", errUsage)
	}
	fs, path := newFlags("cluster status")
	asJSON := fs.Bool("json", false, "one JSON document")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if cfg.Cluster == nil {
		return fmt.Errorf("%s: no cluster: section; this daemon runs alone (see tributary status)", *path)
	}
	conn, err := kafkasink.NewConnection(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	transport := conn.Transport(0)
	defer transport.CloseIdleConnections()
	client := conn.Client(transport, cfg.Kafka.WriteTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := readClusterStatus(ctx, client, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printClusterStatus(stdout, st)
	return nil
}

// clusterStatus is `tributary cluster status`.
type clusterStatus struct {
	Group   string                `json:"group"`
	State   string                `json:"state"`
	Members []clusterStatusMember `json:"members"`
	Sources []clusterStatusSource `json:"sources"`
}

type clusterStatusMember struct {
	ID      string   `json:"member_id"`
	Name    string   `json:"member"`
	Host    string   `json:"host"`
	Sources []string `json:"sources"`
	Refused string   `json:"refused,omitempty"`
}

type clusterStatusSource struct {
	Name       string    `json:"name"`
	Owner      string    `json:"owner"` // member name, "" while none
	OwnerID    string    `json:"owner_id"`
	Epoch      int       `json:"checkpoint_epoch"`
	Checkpoint string    `json:"checkpoint_position"`
	WrittenBy  string    `json:"checkpoint_member"`
	SavedAt    time.Time `json:"checkpoint_saved_at,omitzero"`
}

func readClusterStatus(ctx context.Context, client *kafka.Client, cfg *config.Config) (clusterStatus, error) {
	cc := cfg.Cluster
	st := clusterStatus{Group: cc.Group}
	res, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{cc.Group}})
	if err != nil {
		return st, fmt.Errorf("describe group %s: %w", cc.Group, err)
	}
	owner := map[string]clusterStatusMember{}
	for _, g := range res.Groups {
		if g.Error != nil {
			return st, fmt.Errorf("describe group %s: %w", cc.Group, g.Error)
		}
		st.State = g.GroupState
		for _, m := range g.Members {
			var meta struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(m.MemberMetadata.UserData, &meta)
			var a struct {
				Sources []string `json:"sources"`
				Refused string   `json:"refused"`
			}
			_ = json.Unmarshal(m.MemberAssignments.UserData, &a)
			sm := clusterStatusMember{ID: m.MemberID, Name: meta.Name, Host: m.ClientHost, Sources: a.Sources, Refused: a.Refused}
			st.Members = append(st.Members, sm)
			for _, s := range a.Sources {
				owner[s] = sm
			}
		}
	}
	slices.SortFunc(st.Members, func(a, b clusterStatusMember) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	recs, err := cluster.ReadRecords(ctx, client, cc.CheckpointTopic)
	if err != nil {
		return st, err
	}
	for _, sc := range cfg.Sources {
		o, rec := owner[sc.Name], recs[sc.Name]
		st.Sources = append(st.Sources, clusterStatusSource{Name: sc.Name, Owner: o.Name, OwnerID: o.ID,
			Epoch: rec.Epoch, Checkpoint: rec.Position, WrittenBy: rec.Member, SavedAt: rec.SavedAt})
	}
	return st, nil
}

func printClusterStatus(w io.Writer, st clusterStatus) {
	fmt.Fprintf(w, "group %s: %s, %d members\n\n", st.Group, st.State, len(st.Members))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tID\tHOST\tSOURCES")
	for _, m := range st.Members {
		srcs := strings.Join(m.Sources, ",")
		if srcs == "" {
			srcs = "(standby)"
		}
		if m.Refused != "" {
			srcs = "refused: " + m.Refused
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.ID, m.Host, srcs)
	}
	fmt.Fprintln(tw, "\nSOURCE\tOWNER\tEPOCH\tCHECKPOINT\tSAVED")
	for _, s := range st.Sources {
		o := s.Owner
		if o == "" {
			o = "-"
		}
		saved := "-"
		if !s.SavedAt.IsZero() {
			saved = s.SavedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Name, o, s.Epoch, s.Checkpoint, saved)
	}
	tw.Flush()
}
