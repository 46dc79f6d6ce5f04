package campaigns

import (
	"io/fs"
	"testing"
)

// TestSecretModeProblem: who may read a secret file. Only its owner,
// except a file root hands to the reader's group read-only, which is what
// a Kubernetes Secret with fsGroup looks like.
func TestSecretModeProblem(t *testing.T) {
	pod := secretReader{uid: 65532, gids: []int{65532, 65532}}
	k8s := fileOwner{uid: 0, gid: 65532, ok: true}
	for _, tt := range []struct {
		name  string
		mode  fs.FileMode
		owner fileOwner
		r     secretReader
		ok    bool
	}{
		{"owner only", 0o600, fileOwner{uid: 65532, gid: 65532, ok: true}, pod, true},
		{"owner read-only", 0o400, k8s, pod, true},
		{"Kubernetes Secret with fsGroup", 0o440, k8s, pod, true},
		{"through a supplementary group", 0o440, fileOwner{uid: 0, gid: 2000, ok: true}, secretReader{uid: 1000, gids: []int{1000, 2000}}, true},
		{"also readable by others", 0o444, k8s, pod, false},
		{"others only", 0o404, k8s, pod, false},
		{"group may write", 0o460, k8s, pod, false},
		{"others may write", 0o442, k8s, pod, false},
		{"the reader owns it", 0o440, fileOwner{uid: 65532, gid: 65532, ok: true}, pod, false},
		{"another user owns it", 0o440, fileOwner{uid: 1000, gid: 65532, ok: true}, pod, false},
		{"a group the reader is not in", 0o440, fileOwner{uid: 0, gid: 100, ok: true}, pod, false},
		{"root's group", 0o440, fileOwner{uid: 0, gid: 0, ok: true}, secretReader{uid: 1000, gids: []int{0, 1000}}, false},
		{"root reading", 0o440, fileOwner{uid: 0, gid: 0, ok: true}, secretReader{uid: 0, gids: []int{0}}, false},
		{"owner unknown", 0o440, fileOwner{}, pod, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			problem := secretModeProblem(tt.mode, tt.owner, tt.r)
			if (problem == "") != tt.ok {
				t.Errorf("secretModeProblem(%#o, %+v, %+v) = %q, want accepted %v", tt.mode, tt.owner, tt.r, problem, tt.ok)
			}
		})
	}
}
