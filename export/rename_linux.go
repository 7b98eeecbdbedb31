package export

import (
	"errors"

	"golang.org/x/sys/unix"
)

// renameat2NoReplace renames from to to with RENAME_NOREPLACE: atomically,
// and never over an existing file. A file system without the flag gives
// errors.ErrUnsupported.
func renameat2NoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		return errors.ErrUnsupported
	}
	return err
}
