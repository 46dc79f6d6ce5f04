package campaigns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/auditbot/auditbot/internal/safefile"
)

// FindCampaign returns the path of the campaign file for name in dir:
// dir/name.yaml or dir/name.yml. It refuses a name that is not a valid
// campaign name (so a name can never reach outside dir), a name with both
// files, and an absent one, listing the campaigns dir does hold.
func FindCampaign(dir, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("campaigns: finding campaign: %w", err)
	}
	var found []string
	for _, ext := range []string{".yaml", ".yml"} {
		path := filepath.Join(dir, name+ext)
		fi, err := os.Stat(path)
		switch {
		case err == nil && fi.Mode().IsRegular():
			found = append(found, path)
		case err == nil:
			return "", fmt.Errorf("campaigns: finding campaign: %w", &safefile.Error{Path: path, Mode: fi.Mode().Type(), Err: safefile.ErrNotRegular})
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("campaigns: finding campaign: %w", err)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 2:
		return "", fmt.Errorf("campaigns: finding campaign: both %s and %s exist; keep one", found[0], found[1])
	}
	available, err := ListCampaigns(dir)
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("campaigns: no campaign %q in %s (looked for %s.yaml and %s.yml)", name, dir, name, name)
	if len(available) == 0 {
		return "", errors.New(msg + "; the directory holds no campaign files")
	}
	return "", fmt.Errorf("%s%s; available: %s", msg, suggest(name, available), strings.Join(available, ", "))
}

// ListCampaigns returns the names of the campaign files (*.yaml, *.yml)
// in dir, sorted, without reading them.
func ListCampaigns(dir string) ([]string, error) {
	entries, err := safefile.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("campaigns: listing campaigns: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		n := e.Name()
		if base, ok := strings.CutSuffix(n, ".yaml"); ok {
			names = append(names, base)
		} else if base, ok := strings.CutSuffix(n, ".yml"); ok {
			names = append(names, base)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
