package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parquet-go/parquet-go"
)

// ParquetConfig configures ConsumeToParquet, the central side of a fleet:
// one durable JetStream consumer storing every sensor's flows in Parquet
// files that DuckDB, Spark or pandas query in one place.
type ParquetConfig struct {
	URL    string
	Stream string // default "FLOWHAWK"
	// Durable names the consumer; JetStream remembers what it
	// acknowledged, so a restarted consumer resumes where it stopped.
	// Default "flowhawk-parquet".
	Durable string
	// Subject filters what is stored (default "flowhawk.*.flows": every
	// sensor).
	Subject string
	// Dir receives files named flows-<UTC time to the nanosecond>.parquet.
	Dir string
	// Rotate closes a file after this long (default 1 min) or MaxRows
	// rows (default 1,000,000). Messages are acknowledged only once the
	// file holding them is closed and renamed into place, so a crash
	// loses nothing: JetStream redelivers what was not acknowledged.
	Rotate  time.Duration
	MaxRows int
	// Fetch is how many messages one pull asks for (default 256).
	Fetch int
}

func (c *ParquetConfig) defaults() {
	if c.Stream == "" {
		c.Stream = "FLOWHAWK"
	}
	if c.Durable == "" {
		c.Durable = "flowhawk-parquet"
	}
	if c.Subject == "" {
		c.Subject = "flowhawk.*.flows"
	}
	if c.Rotate <= 0 {
		c.Rotate = time.Minute
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 1_000_000
	}
	if c.Fetch <= 0 {
		c.Fetch = 256
	}
}

// FlowRow is the Parquet row of a stored flow: FlowRecord without the
// feature map (keep the feature columns in the sensors' own flow files).
type FlowRow struct {
	Sensor     string    `parquet:"sensor,dict"`
	ID         uint64    `parquet:"flow_id"`
	Start      time.Time `parquet:"start,timestamp(microsecond)"`
	End        time.Time `parquet:"end,timestamp(microsecond)"`
	DurationUS float64   `parquet:"duration_us"`
	SrcIP      string    `parquet:"src_ip"`
	SrcPort    uint16    `parquet:"src_port"`
	DstIP      string    `parquet:"dst_ip"`
	DstPort    uint16    `parquet:"dst_port"`
	Proto      uint8     `parquet:"proto"`
	VLAN       uint16    `parquet:"vlan"`
	VLANInner  uint16    `parquet:"vlan_inner"`
	Tunnel     uint32    `parquet:"tunnel_id"`
	FwdPackets uint64    `parquet:"fwd_packets"`
	FwdBytes   uint64    `parquet:"fwd_bytes"`
	BwdPackets uint64    `parquet:"bwd_packets"`
	BwdBytes   uint64    `parquet:"bwd_bytes"`
	FwdPayload uint64    `parquet:"fwd_payload_bytes"`
	BwdPayload uint64    `parquet:"bwd_payload_bytes"`
	FwdFlags   uint8     `parquet:"fwd_tcp_flags"`
	BwdFlags   uint8     `parquet:"bwd_tcp_flags"`
	EndReason  string    `parquet:"end_reason,dict"`
	Partial    bool      `parquet:"partial"`
	Class      string    `parquet:"class,dict"`
}

func rowOf(r *FlowRecord) FlowRow {
	return FlowRow{
		Sensor: r.Sensor, ID: r.ID, Start: r.Start, End: r.End, DurationUS: r.DurationUS,
		SrcIP: r.SrcIP, SrcPort: r.SrcPort, DstIP: r.DstIP, DstPort: r.DstPort, Proto: r.Proto,
		VLAN: r.VLAN, VLANInner: r.VLANInner, Tunnel: r.Tunnel,
		FwdPackets: r.FwdPackets, FwdBytes: r.FwdBytes, BwdPackets: r.BwdPackets, BwdBytes: r.BwdBytes,
		FwdPayload: r.FwdPayload, BwdPayload: r.BwdPayload, FwdFlags: r.FwdFlags, BwdFlags: r.BwdFlags,
		EndReason: r.EndReason, Partial: r.Partial, Class: r.Class,
	}
}

// ConsumeStats counts what ConsumeToParquet did.
type ConsumeStats struct {
	Rows, Files, Messages uint64
	// Bad counts lines that were not flow records (logged and skipped).
	Bad uint64
}

// parquetFile is the file being written and the messages it holds.
type parquetFile struct {
	tmp, final string
	fh         *os.File
	w          *parquet.GenericWriter[FlowRow]
	opened     time.Time
	rows       int
	msgs       []jetstream.Msg
}

// ConsumeToParquet stores flows from JetStream into Parquet files until
// ctx is done; it then closes the open file, acknowledges its messages and
// returns.
func ConsumeToParquet(ctx context.Context, cfg ParquetConfig) (ConsumeStats, error) {
	cfg.defaults()
	var st ConsumeStats
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return st, fmt.Errorf("stream: %w", err)
	}
	nc, err := nats.Connect(cfg.URL, nats.Name("flowhawk parquet consumer"), nats.MaxReconnects(-1))
	if err != nil {
		return st, fmt.Errorf("stream: nats %q: %w", cfg.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return st, fmt.Errorf("stream: jetstream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// Acks wait for the file to close: give them the rotation time
		// and a margin before JetStream redelivers.
		AckWait:       2*cfg.Rotate + 30*time.Second,
		MaxAckPending: -1,
	})
	if err != nil {
		return st, fmt.Errorf("stream: consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	var cur *parquetFile
	closeFile := func() error {
		if cur == nil {
			return nil
		}
		f := cur
		cur = nil
		if err := f.w.Close(); err != nil {
			f.fh.Close()
			return fmt.Errorf("stream: %s: %w", f.tmp, err)
		}
		if err := f.fh.Sync(); err != nil {
			f.fh.Close()
			return fmt.Errorf("stream: %s: %w", f.tmp, err)
		}
		if err := f.fh.Close(); err != nil {
			return fmt.Errorf("stream: %s: %w", f.tmp, err)
		}
		if err := os.Rename(f.tmp, f.final); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		st.Files++
		for _, m := range f.msgs {
			if err := m.Ack(); err != nil {
				slog.Warn("ack failed; the message will be redelivered", "err", err)
			}
		}
		slog.Info("wrote flows", "file", f.final, "rows", f.rows)
		return nil
	}
	open := func() error {
		now := time.Now().UTC()
		// Nanoseconds keep names unique across restarts within a second.
		name := fmt.Sprintf("flows-%s.parquet", now.Format("20060102T150405.000000000"))
		f := &parquetFile{final: filepath.Join(cfg.Dir, name), opened: now}
		f.tmp = f.final + ".tmp"
		fh, err := os.Create(f.tmp)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		f.fh, f.w = fh, parquet.NewGenericWriter[FlowRow](fh)
		cur = f
		return nil
	}
	rows := make([]FlowRow, 0, 256)
	for {
		if ctx.Err() != nil {
			return st, closeFile()
		}
		if cur != nil && time.Since(cur.opened) >= cfg.Rotate {
			if err := closeFile(); err != nil {
				return st, err
			}
		}
		batch, err := cons.Fetch(cfg.Fetch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return st, closeFile()
			}
			slog.Warn("fetch failed; retrying", "err", err)
			time.Sleep(time.Second)
			continue
		}
		for m := range batch.Messages() {
			if cur == nil {
				if err := open(); err != nil {
					return st, err
				}
			}
			rows = rows[:0]
			if m.Headers().Get(FormatHeader) == FormatProtobuf {
				for data := m.Data(); len(data) > 0; {
					r, n, err := DecodeFlowProto(data)
					if err != nil {
						st.Bad++
						slog.Warn("skipping the rest of a message that is not flow records", "subject", m.Subject(), "err", err)
						break
					}
					rows = append(rows, rowOf(&r))
					data = data[n:]
				}
			} else {
				for _, line := range bytes.Split(m.Data(), []byte("\n")) {
					if len(bytes.TrimSpace(line)) == 0 {
						continue
					}
					var r FlowRecord
					if err := json.Unmarshal(line, &r); err != nil {
						st.Bad++
						slog.Warn("skipping a line that is not a flow record", "subject", m.Subject(), "err", err)
						continue
					}
					rows = append(rows, rowOf(&r))
				}
			}
			if _, err := cur.w.Write(rows); err != nil {
				return st, fmt.Errorf("stream: %s: %w", cur.tmp, err)
			}
			cur.rows += len(rows)
			cur.msgs = append(cur.msgs, m)
			st.Rows += uint64(len(rows))
			st.Messages++
			if cur.rows >= cfg.MaxRows {
				if err := closeFile(); err != nil {
					return st, err
				}
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			slog.Warn("fetch ended early", "err", err)
		}
	}
}
