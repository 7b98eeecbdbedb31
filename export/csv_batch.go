package export

import (
	"fmt"

	"github.com/flowhawk/flowhawk/features"
)

// AppendRecord appends one CSV record with its line end to b. It only
// reads the writer's immutable column list, so many goroutines may encode
// at once and hand the bytes to WriteRecords in order.
func (c *CSVWriter) AppendRecord(b []byte, row *features.Row, extra []string) []byte {
	b = appendCSV(b, c.kinds, row, extra)
	return append(b, '\n')
}

// WriteRecords writes records encoded by AppendRecord.
func (c *CSVWriter) WriteRecords(b []byte) error {
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("export: csv: %w", err)
	}
	return nil
}
