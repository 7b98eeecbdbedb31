//go:build !linux

package export

import "errors"

// renameat2NoReplace is Linux only: elsewhere a hard link does the work.
func renameat2NoReplace(from, to string) error { return errors.ErrUnsupported }

// noFollow is O_NOFOLLOW where the package knows it (rename_linux.go).
const noFollow = 0
