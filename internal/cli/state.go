package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/state"
)

// stateCommand groups the state file's maintenance: check and backup. Both
// open the file read-only and verified (see state.Open), so they never
// change it; while the daemon runs it holds the file, and they report it
// locked (exit 5).
func (a *app) stateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Check or back up the state file",
	}
	var file string
	cmd.PersistentFlags().StringVar(&file, "file", "", "the state file to use (default: the config's state_file)")
	cmd.AddCommand(a.stateCheckCommand(&file), a.stateBackupCommand(&file))
	return cmd
}

// openStateFile opens the state file (the config's, or --file) read-only.
func (a *app) openStateFile(file string) (*state.Store, string, error) {
	if file == "" {
		cfg, err := a.loadConfig()
		if err != nil {
			return nil, "", err
		}
		file = cfg.StateFile
	}
	st, err := state.Open(file, state.Options{ReadOnly: true})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", noStateFile(file)
	}
	return st, file, err
}

func (a *app) stateCheckCommand(file *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the state file: bbolt's consistency check, the schema, and every record decoded",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, path, err := a.openStateFile(*file)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Verify()
			if err != nil {
				return fmt.Errorf("state check %s: %w", path, err)
			}
			res := StateCheckResult{File: path, OK: len(rep.Problems) == 0, Campaigns: rep.Campaigns, Records: rep.Records, Problems: rep.Problems}
			if res.Problems == nil {
				res.Problems = []string{}
			}
			if asJSON {
				if err := a.writeJSON("state-check", res); err != nil {
					return err
				}
			} else if res.OK {
				fmt.Fprintf(a.stdout, "%s: ok (%d campaign(s), %d record(s))\n", path, rep.Campaigns, rep.Records)
			}
			if !res.OK {
				if !asJSON {
					for _, p := range rep.Problems {
						fmt.Fprintf(a.stdout, "%s: %s\n", path, escapeText(p))
					}
				}
				return fmt.Errorf("%w: %s: %d problem(s)", state.ErrDamaged, path, len(rep.Problems))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// StateCheckResult is `state check --json`'s data. A file that does not
// open as an auditbot state file at all gets the error envelope (exit 7).
type StateCheckResult struct {
	File      string   `json:"file"`
	OK        bool     `json:"ok"`
	Campaigns int      `json:"campaigns"`
	Records   int      `json:"records"`
	Problems  []string `json:"problems"`
}

func (a *app) stateBackupCommand(file *string) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the state file to FILE (mode 0600; never overwrites)",
		Args:  exactArgs(1, "the backup file to create"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, path, err := a.openStateFile(*file)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Backup(args[0]); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return &usageError{fmt.Sprintf("%s exists; a backup never overwrites a file", args[0])}
				}
				return err
			}
			info, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "backed up %s to %s (%d bytes)\n", path, args[0], info.Size())
			return nil
		},
	}
}
