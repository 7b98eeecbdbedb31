package ipfix

import (
	"encoding/binary"
	"fmt"
)

// Message is a decoded IPFIX message: what a collector sees. The decoder
// exists to check the exporter's output and to debug a capture; it handles
// template sets and data sets of known templates (not options templates).
type Message struct {
	Version          uint16
	Length           uint16
	ExportTime       uint32
	Sequence         uint32
	Domain           uint32
	Templates        map[uint16][]Field
	Records          []DecodedRecord
	UnknownTemplates int // data sets whose template was not known
}

// DecodedRecord maps "PEN/ID" (PEN 0 for IANA) to the raw field bytes.
type DecodedRecord struct {
	Template uint16
	Values   map[FieldKey][]byte
}

// FieldKey names an element by PEN and ID.
type FieldKey struct {
	PEN uint32
	ID  uint16
}

// Uint returns an unsigned field value (big endian, any length up to 8).
func (r DecodedRecord) Uint(pen uint32, id uint16) (uint64, bool) {
	b, ok := r.Values[FieldKey{pen, id}]
	if !ok || len(b) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// Decode parses one message. templates carries the templates learned from
// earlier messages of the same session and is updated in place; it may be
// nil.
func Decode(b []byte, templates map[uint16][]Field) (*Message, error) {
	be := binary.BigEndian
	if len(b) < msgHeaderLen {
		return nil, fmt.Errorf("ipfix: message of %d bytes shorter than its header", len(b))
	}
	m := &Message{Version: be.Uint16(b), Length: be.Uint16(b[2:]), ExportTime: be.Uint32(b[4:]), Sequence: be.Uint32(b[8:]), Domain: be.Uint32(b[12:])}
	if m.Version != version {
		return nil, fmt.Errorf("ipfix: version %d at offset 0, want 10", m.Version)
	}
	if int(m.Length) != len(b) {
		return nil, fmt.Errorf("ipfix: header length %d, datagram %d bytes", m.Length, len(b))
	}
	if templates == nil {
		templates = map[uint16][]Field{}
	}
	m.Templates = templates
	off := msgHeaderLen
	for off < len(b) {
		if len(b)-off < setHeaderLen {
			return nil, fmt.Errorf("ipfix: truncated set header at offset %d", off)
		}
		id, n := be.Uint16(b[off:]), int(be.Uint16(b[off+2:]))
		if n < setHeaderLen || off+n > len(b) {
			return nil, fmt.Errorf("ipfix: set at offset %d has bad length %d", off, n)
		}
		body := b[off+setHeaderLen : off+n]
		switch {
		case id == templateSetID:
			if err := decodeTemplates(body, templates, off+setHeaderLen); err != nil {
				return nil, err
			}
		case id >= 256:
			fs, ok := templates[id]
			if !ok {
				m.UnknownTemplates++
				break
			}
			recs, err := decodeData(body, id, fs, off+setHeaderLen)
			if err != nil {
				return nil, err
			}
			m.Records = append(m.Records, recs...)
		}
		off += n
	}
	return m, nil
}

func decodeTemplates(b []byte, into map[uint16][]Field, base int) error {
	be := binary.BigEndian
	off := 0
	for len(b)-off >= 4 {
		id, count := be.Uint16(b[off:]), int(be.Uint16(b[off+2:]))
		off += 4
		if id < 256 {
			return fmt.Errorf("ipfix: template ID %d at offset %d below 256", id, base+off-4)
		}
		fs := make([]Field, 0, min(count, 256))
		for i := 0; i < count; i++ {
			if len(b)-off < 4 {
				return fmt.Errorf("ipfix: template %d truncated at offset %d", id, base+off)
			}
			f := Field{ID: be.Uint16(b[off:]), Length: be.Uint16(b[off+2:])}
			off += 4
			if f.ID&0x8000 != 0 {
				if len(b)-off < 4 {
					return fmt.Errorf("ipfix: template %d enterprise number truncated at offset %d", id, base+off)
				}
				f.ID &^= 0x8000
				f.PEN = be.Uint32(b[off:])
				off += 4
			}
			fs = append(fs, f)
		}
		into[id] = fs
	}
	return nil
}

func decodeData(b []byte, id uint16, fs []Field, base int) ([]DecodedRecord, error) {
	minLen := 0
	for _, f := range fs {
		if f.Length == VarLen {
			minLen++
		} else {
			minLen += int(f.Length)
		}
	}
	var recs []DecodedRecord
	off := 0
	// Records continue while a whole minimal record fits; the rest is padding.
	for minLen > 0 && len(b)-off >= minLen {
		r := DecodedRecord{Template: id, Values: make(map[FieldKey][]byte, len(fs))}
		for _, f := range fs {
			n := int(f.Length)
			if f.Length == VarLen {
				if off >= len(b) {
					return nil, fmt.Errorf("ipfix: record of template %d truncated at offset %d", id, base+off)
				}
				n = int(b[off])
				off++
				if n == 255 {
					if len(b)-off < 2 {
						return nil, fmt.Errorf("ipfix: varlen length truncated at offset %d", base+off)
					}
					n = int(binary.BigEndian.Uint16(b[off:]))
					off += 2
				}
			}
			if len(b)-off < n {
				return nil, fmt.Errorf("ipfix: field %d/%d of template %d truncated at offset %d", f.PEN, f.ID, id, base+off)
			}
			r.Values[FieldKey{f.PEN, f.ID}] = b[off : off+n]
			off += n
		}
		recs = append(recs, r)
	}
	return recs, nil
}
