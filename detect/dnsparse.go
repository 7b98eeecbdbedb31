package detect

import (
	"bytes"
	"errors"
	"fmt"
)

// dnsMsg is the part of a DNS message the detectors need: header flags
// and the first question. It is decoded in place into reused buffers, so
// parsing allocates nothing.
type dnsMsg struct {
	id          uint16
	response    bool
	opcode      uint8
	rcode       uint8
	qdcount     uint16
	ancount     uint16
	hasQuestion bool
	qtype       uint16
	qclass      uint16
	qend        int // offset after the first question
	// name is the first question's name, lower-case, dot-separated, no
	// trailing dot; bytes outside printable ASCII and dots inside a label
	// are replaced by '?'.
	name []byte
	buf  [256]byte
}

// DNS response codes the detectors use.
const (
	rcodeNXDomain = 3
)

var (
	errDNSShort   = errors.New("dns: message shorter than its header")
	errDNSName    = errors.New("dns: bad name")
	errDNSPointer = errors.New("dns: compression pointer loop or out of range")
)

// parse decodes header and first question from b. Every read is bounds
// checked; compression pointers are followed at most 16 times and must
// point backwards; a name over 255 bytes keeps its last 255 (cutName).
func (m *dnsMsg) parse(b []byte) error {
	m.hasQuestion = false
	m.name = m.buf[:0]
	if len(b) < 12 {
		return errDNSShort
	}
	m.id = uint16(b[0])<<8 | uint16(b[1])
	m.response = b[2]&0x80 != 0
	m.opcode = b[2] >> 3 & 0xf
	m.rcode = b[3] & 0xf
	m.qdcount = uint16(b[4])<<8 | uint16(b[5])
	m.ancount = uint16(b[6])<<8 | uint16(b[7])
	if m.qdcount == 0 {
		return nil
	}
	off, err := m.readName(b, 12)
	if err != nil {
		return err
	}
	if off+4 > len(b) {
		return fmt.Errorf("dns: question truncated at offset %d: %w", off, errDNSShort)
	}
	m.qtype = uint16(b[off])<<8 | uint16(b[off+1])
	m.qclass = uint16(b[off+2])<<8 | uint16(b[off+3])
	m.qend = off + 4
	m.hasQuestion = true
	return nil
}

// maxAnswers bounds the answer records cnames walks.
const maxAnswers = 32

// cnames calls fn with the target of each CNAME record in the answer
// section of the message b that m parsed (a response with a question),
// decoded into scratch's name buffer; fn must not keep it. A malformed
// record ends the walk: what came before it was reported.
func (m *dnsMsg) cnames(b []byte, scratch *dnsMsg, fn func(target []byte)) error {
	off := m.qend
	for range int(m.qdcount) - 1 { // further questions, rare
		scratch.name = scratch.buf[:0]
		end, err := scratch.readName(b, off)
		if err != nil {
			return err
		}
		off = end + 4
	}
	for range min(int(m.ancount), maxAnswers) {
		scratch.name = scratch.buf[:0]
		end, err := scratch.readName(b, off)
		if err != nil {
			return err
		}
		if end+10 > len(b) {
			return fmt.Errorf("dns: answer record truncated at offset %d: %w", end, errDNSShort)
		}
		typ := uint16(b[end])<<8 | uint16(b[end+1])
		rdlen := int(b[end+8])<<8 | int(b[end+9])
		rdata := end + 10
		if rdata+rdlen > len(b) {
			return fmt.Errorf("dns: answer data at offset %d longer than the message: %w", rdata, errDNSShort)
		}
		if typ == 5 { // CNAME
			scratch.name = scratch.buf[:0]
			if _, err := scratch.readName(b, rdata); err != nil {
				return err
			}
			fn(scratch.name)
		}
		off = rdata + rdlen
	}
	return nil
}

// maxName is the longest name kept; maxNameWork the length at which a
// name being read drops its front, so that its end is kept within
// bounded memory whatever the pointers repeat.
const (
	maxName     = 255
	maxNameWork = 1024
)

// cutName keeps the last maxName bytes of a longer name, from a label
// boundary: the end holds the registrable domain, which dns.tunnel and
// intel.domain judge, and such a name (no resolver passes one) is sent
// straight to a tunnel's own server. It was refused as malformed.
func (m *dnsMsg) cutName() {
	if len(m.name) <= maxName {
		return
	}
	t := m.name[len(m.name)-maxName:]
	if i := bytes.IndexByte(t, '.'); i >= 0 && i+1 < len(t) {
		t = t[i+1:]
	}
	m.name = m.name[:copy(m.name, t)]
}

// readName decodes the name at off into m.name and returns the offset
// after it (after the first pointer, if compressed).
func (m *dnsMsg) readName(b []byte, off int) (int, error) {
	end := -1
	hops := 0
	for {
		if off >= len(b) {
			return 0, fmt.Errorf("dns: name runs past the message at offset %d: %w", off, errDNSName)
		}
		l := int(b[off])
		switch l & 0xc0 {
		case 0x00:
			if l == 0 {
				if end < 0 {
					end = off + 1
				}
				m.cutName()
				return end, nil
			}
			if off+1+l > len(b) {
				return 0, fmt.Errorf("dns: label at offset %d longer than the message: %w", off, errDNSName)
			}
			if len(m.name) > 0 {
				m.name = append(m.name, '.')
			}
			if len(m.name) > maxNameWork {
				m.name = m.name[:copy(m.name, m.name[len(m.name)-maxName:])]
			}
			for _, c := range b[off+1 : off+1+l] {
				switch {
				case c >= 'A' && c <= 'Z':
					c += 'a' - 'A'
				case c == '.' || c < 0x21 || c > 0x7e:
					c = '?'
				}
				m.name = append(m.name, c)
			}
			off += 1 + l
		case 0xc0:
			if off+1 >= len(b) {
				return 0, fmt.Errorf("dns: pointer truncated at offset %d: %w", off, errDNSPointer)
			}
			ptr := (l&0x3f)<<8 | int(b[off+1])
			if end < 0 {
				end = off + 2
			}
			hops++
			if hops > 16 || ptr >= off {
				return 0, fmt.Errorf("dns: pointer to %d at offset %d: %w", ptr, off, errDNSPointer)
			}
			off = ptr
		default:
			return 0, fmt.Errorf("dns: reserved label type %#x at offset %d: %w", l&0xc0, off, errDNSName)
		}
	}
}
