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

// noFollow makes the open of a period's temporary file fail on a symbolic
// link: the name is flowhawk's own, and root following a link planted
// there by a user who can write to the output directory would truncate or
// append to whatever it points at.
const noFollow = unix.O_NOFOLLOW
