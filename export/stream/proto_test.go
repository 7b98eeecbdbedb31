package stream

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/flowhawk/flowhawk/features"
)

// flowDescriptor builds the flowhawk.v1.Flow descriptor from flow.proto's
// field lines, so the schema file itself is what the real protobuf
// runtime checks our bytes against.
func flowDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	src, err := os.ReadFile("flow.proto")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]descriptorpb.FieldDescriptorProto_Type{
		"string": descriptorpb.FieldDescriptorProto_TYPE_STRING, "bytes": descriptorpb.FieldDescriptorProto_TYPE_BYTES,
		"uint64": descriptorpb.FieldDescriptorProto_TYPE_UINT64, "int64": descriptorpb.FieldDescriptorProto_TYPE_INT64,
		"uint32": descriptorpb.FieldDescriptorProto_TYPE_UINT32, "bool": descriptorpb.FieldDescriptorProto_TYPE_BOOL,
		"double": descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "Feature": descriptorpb.FieldDescriptorProto_TYPE_MESSAGE,
	}
	msgRe := regexp.MustCompile(`(?s)message (\w+) \{(.*?)\n\}`)
	fieldRe := regexp.MustCompile(`(?m)^\s*(repeated )?(\w+) (\w+) = (\d+);`)
	fd := &descriptorpb.FileDescriptorProto{Name: proto.String("flow.proto"), Package: proto.String("flowhawk.v1"), Syntax: proto.String("proto3")}
	for _, m := range msgRe.FindAllStringSubmatch(string(src), -1) {
		md := &descriptorpb.DescriptorProto{Name: proto.String(m[1])}
		for _, f := range fieldRe.FindAllStringSubmatch(m[2], -1) {
			n, _ := strconv.Atoi(f[4])
			typ, ok := types[f[2]]
			if !ok {
				t.Fatalf("flow.proto: unknown type %s", f[2])
			}
			label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
			if f[1] != "" {
				label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
			}
			fp := &descriptorpb.FieldDescriptorProto{Name: proto.String(f[3]), Number: proto.Int32(int32(n)), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(f[3])}
			if typ == descriptorpb.FieldDescriptorProto_TYPE_MESSAGE {
				fp.TypeName = proto.String(".flowhawk.v1." + f[2])
			}
			md.Field = append(md.Field, fp)
		}
		fd.MessageType = append(fd.MessageType, md)
	}
	file, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatalf("flow.proto: %v", err)
	}
	desc := file.Messages().ByName("Flow")
	if desc == nil || desc.Fields().Len() != 25 {
		t.Fatalf("flow.proto: Flow message not parsed")
	}
	return desc
}

// TestProtoSchema decodes our records with the protobuf runtime against
// flow.proto and checks the values.
func TestProtoSchema(t *testing.T) {
	desc := flowDescriptor(t)
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	row := x.NewRow()
	f := synthFlows(3, 40)[2]
	f.Key.SetTunnelID(4242)
	x.Fill(f, nil, row)
	b := take(f, row, "PortScan", true).marshalProto("gw9", x.Columns(), nil)
	size, n := protowire.ConsumeVarint(b)
	if n < 0 || int(size) != len(b)-n {
		t.Fatalf("delimiter: size %d, %d bytes follow", size, len(b)-n)
	}
	m := dynamicpb.NewMessage(desc)
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b[n:], m); err != nil {
		t.Fatal(err)
	}
	get := func(name string) protoreflect.Value { return m.Get(desc.Fields().ByName(protoreflect.Name(name))) }
	if got := get("sensor").String(); got != "gw9" {
		t.Errorf("sensor %q", got)
	}
	if got := get("flow_id").Uint(); got != f.ID {
		t.Errorf("flow_id %d, want %d", got, f.ID)
	}
	if got := get("fwd_bytes").Uint(); got != f.Fwd.Bytes {
		t.Errorf("fwd_bytes %d, want %d", got, f.Fwd.Bytes)
	}
	if got := get("start_unix_nano").Int(); got != f.Start {
		t.Errorf("start %d, want %d", got, f.Start)
	}
	if got := get("src_ip").Bytes(); len(got) != 4 {
		t.Errorf("src_ip %v, want 4 bytes", got)
	}
	if got := get("tunnel_id").Uint(); got != 4242 {
		t.Errorf("tunnel_id %d, want 4242", got)
	}
	if got := get("class").String(); got != "PortScan" {
		t.Errorf("class %q", got)
	}
	if len(m.GetUnknown()) != 0 {
		t.Errorf("%d bytes the schema does not know", len(m.GetUnknown()))
	}
	feats := get("features").List()
	if feats.Len() == 0 {
		t.Fatal("no features")
	}
	fdesc := desc.Fields().ByName("features").Message()
	found := false
	for i := 0; i < feats.Len(); i++ {
		fm := feats.Get(i).Message()
		if fm.Get(fdesc.Fields().ByName("name")).String() == "Total Fwd Packets" {
			found = true
			if v := fm.Get(fdesc.Fields().ByName("value")).Float(); v != float64(f.Fwd.Packets) || math.IsNaN(v) {
				t.Errorf("Total Fwd Packets = %v, want %d", v, f.Fwd.Packets)
			}
		}
	}
	if !found {
		t.Error("feature Total Fwd Packets missing")
	}
}

func TestDecodeFlowProtoBadAddress(t *testing.T) {
	var msg []byte
	msg = protowire.AppendTag(msg, pbSrcIP, protowire.BytesType)
	msg = protowire.AppendBytes(msg, []byte{10, 0, 0}) // 3 bytes: neither IPv4 nor IPv6
	b := protowire.AppendVarint(nil, uint64(len(msg)))
	b = append(b, msg...)
	_, k, err := DecodeFlowProto(b)
	if err == nil || !regexp.MustCompile(`src_ip has 3 bytes`).MatchString(err.Error()) {
		t.Fatalf("got %v, want an error naming src_ip and its length", err)
	}
	if k != len(b) {
		t.Errorf("bad record used %d bytes, want its delimited length %d, to skip it", k, len(b))
	}
}

// TestDecodeFlowProtoNonFinite: a feature whose value is NaN or an
// infinity reads as missing, as the sensor's own encoding leaves such
// values out; it was stored as a NaN.
func TestDecodeFlowProtoNonFinite(t *testing.T) {
	feature := func(name string, v float64) []byte {
		var f []byte
		f = protowire.AppendTag(f, 1, protowire.BytesType)
		f = protowire.AppendBytes(f, []byte(name))
		f = protowire.AppendTag(f, 2, protowire.Fixed64Type)
		return protowire.AppendFixed64(f, math.Float64bits(v))
	}
	var msg []byte
	for _, f := range []struct {
		name string
		v    float64
	}{{"a", math.NaN()}, {"b", math.Inf(1)}, {"c", math.Inf(-1)}, {"d", 2.5}} {
		msg = protowire.AppendTag(msg, pbFeatures, protowire.BytesType)
		msg = protowire.AppendBytes(msg, feature(f.name, f.v))
	}
	b := protowire.AppendVarint(nil, uint64(len(msg)))
	b = append(b, msg...)
	r, _, err := DecodeFlowProto(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Features) != 1 || r.Features["d"] != 2.5 {
		t.Errorf("features %v, want only d=2.5", r.Features)
	}
}

// TestProtoEmptyTextFeature checks that an empty text feature reads back
// as "" from the protobuf form, as from JSON: it was left out of the
// wire as proto3 leaves out an empty string, and decoded as the number 0.
func TestProtoEmptyTextFeature(t *testing.T) {
	cols := []features.Column{{Name: "num", Kind: features.Float}, {Name: "txt", Kind: features.String}}
	row := &features.Row{Num: []float64{3, 0}, Str: [][]byte{nil, {}}}
	s := take(synthFlows(1, 1)[0], row, "", true)
	var js FlowRecord
	if err := json.Unmarshal(s.marshal("gw", cols, nil), &js); err != nil {
		t.Fatal(err)
	}
	pb, _, err := DecodeFlowProto(s.marshalProto("gw", cols, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(js.Features, pb.Features) || pb.Features["txt"] != "" {
		t.Errorf("features differ:\njson  %#v\nproto %#v", js.Features, pb.Features)
	}
}
