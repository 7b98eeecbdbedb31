package export

import (
	"bytes"
	"io"
)

// RowsWritten is implemented by the writers of this package: the rows
// their destination took. A run whose output failed (a full disk) reports
// the flows it did not write from it, exactly: counting the rows handed to
// a writer called the rows in its buffer written when the failing write
// lost them.
type RowsWritten interface {
	// RowsWritten is, for CSV and JSON Lines, the rows whose line end the
	// destination took; for Parquet, the rows of a file closed without
	// error (one without its footer cannot be read).
	RowsWritten() uint64
}

// lineCounter counts the lines whose end the writer under it took. For
// CSV it ignores line ends inside quoted fields (a label with a line
// break), tracking the quotes across writes.
type lineCounter struct {
	w       io.Writer
	csv     bool
	inQuote bool
	lines   uint64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	b := p[:n]
	if !c.csv || (!c.inQuote && bytes.IndexByte(b, '"') < 0) {
		c.lines += uint64(bytes.Count(b, []byte{'\n'}))
		return n, err
	}
	for _, ch := range b {
		switch ch {
		case '"':
			c.inQuote = !c.inQuote // a doubled quote toggles twice
		case '\n':
			if !c.inQuote {
				c.lines++
			}
		}
	}
	return n, err
}
