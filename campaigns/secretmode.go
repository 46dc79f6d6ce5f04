package campaigns

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// fileOwner is who owns a file, when the platform says (ok).
type fileOwner struct {
	uid, gid int
	ok       bool
}

// secretReader is the process that reads a secret file: its user and
// every group it runs with (effective and supplementary).
type secretReader struct {
	uid  int
	gids []int
}

// thisProcess returns the reader this process is.
func thisProcess() secretReader {
	gids, _ := os.Getgroups() // none on error: group access is then refused
	return secretReader{uid: os.Geteuid(), gids: append(gids, os.Getegid())}
}

// secretModeProblem says why a secret file with this mode and owner must
// not be read by r, or "" when it may. Nobody but the owner may read it,
// with one exception, so that a Kubernetes Secret works as mounted: with
// fsGroup the kubelet turns its 0400 into 0440 and gives it to root and
// the pod's group (kubernetes issue 57923). A group-readable file is
// accepted when root owns it, its group is one r runs with (and not
// root's group), r is not root, and neither group nor others may write
// it: the file was handed to r's group on purpose, by root, read-only.
// On a host that is `install -o root -g auditbot -m 0440`. A file r owns
// itself gains nothing from its group bits, so they are refused there.
func secretModeProblem(mode fs.FileMode, owner fileOwner, r secretReader) string {
	mode = mode.Perm()
	switch {
	case mode&0o004 != 0:
		return fmt.Sprintf("has mode %#o, readable by group or others", mode)
	case mode&0o040 == 0:
		return ""
	case owner.ok && owner.uid == 0 && r.uid != 0 && owner.gid != 0 && slices.Contains(r.gids, owner.gid) && mode&0o022 == 0:
		return ""
	}
	return fmt.Sprintf("has mode %#o, readable by group or others (group-readable is accepted only for a file root owns, "+
		"whose group is one auditbot runs with, that group and others cannot write: a Kubernetes Secret mounted with fsGroup, "+
		"or install -o root -g GROUP -m 0440)", mode)
}
