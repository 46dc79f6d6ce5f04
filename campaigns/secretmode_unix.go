//go:build unix

package campaigns

import (
	"io/fs"
	"syscall"
)

// ownerOf returns who owns the file fi describes.
func ownerOf(fi fs.FileInfo) fileOwner {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileOwner{}
	}
	return fileOwner{uid: int(st.Uid), gid: int(st.Gid), ok: true}
}
