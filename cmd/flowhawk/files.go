package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkWritable makes sure path can be written before a run that writes
// it only at its end: train -o /nonexistent/m.json trained fully, then
// failed without naming the flag. An existing regular file is opened for
// writing (not truncated); a device or FIFO is left to the write; a new one is tried as a temporary file beside it,
// removed at once. The error names the flag.
func checkWritable(flag, path string) error {
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s %s: is a directory", flag, path)
		}
		if !st.Mode().IsRegular() {
			return nil // a FIFO's open would wait for its reader
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return flagFileErr(flag, path, err)
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s %s: cannot create a file in %s: %w", flag, path, dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// checkReadable makes sure each path can be opened for reading (and is
// not a directory) before a run that reads it only at its end: train
// --test nosuch.csv trained fully, then failed and kept no model. The
// error names the flag.
func checkReadable(flag string, paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return flagFileErr(flag, p, err)
		}
		st, err := f.Stat()
		f.Close()
		if err == nil && st.IsDir() {
			return fmt.Errorf("%s %s: is a directory", flag, p)
		}
	}
	return nil
}

// flagFileErr names the flag of a file an error is about: "--model
// m.json: no such file or directory", rather than "open m.json: ...".
// The path is said once: a *fs.PathError about path gives its cause.
func flagFileErr(flag, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", flag, path, err)
}

// nameOnce drops the second of a file name an error repeats at its start:
// the classifier names each data file it reads, and the export reader it
// reads Parquet with names it too ("cut.parquet: cut.parquet: export:
// ..."). paths are the names it may repeat; errors.Is and errors.As still
// see the error.
func nameOnce(err error, paths ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, p := range paths {
		if pre := p + ": "; strings.HasPrefix(msg, pre+pre) {
			return &renamedError{msg[len(pre):], err}
		}
	}
	return err
}

// renamedError is an error said in other words.
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }
