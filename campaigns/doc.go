// Package campaigns reads auditbot's two kinds of YAML file: the bot
// configuration (config.yaml, see LoadConfig) and the campaign files that
// each describe one audit (see LoadCampaign), and defines the risk levels
// (Risk) that decide how many approvers a removal needs.
//
// Both loaders work in the same fixed order: a strict parse over yaml.Node
// (unknown keys, wrong types and duplicate keys are errors), defaults for
// what the file left out, then compilation and validation of the values.
// Every problem found is reported, not only the first: the returned error is
// an errors.Join of *LineError values, each naming the file and the line, so
// a person fixing a file sees everything at once:
//
//	campaigns/mfa.yaml:7: unknown key "cutof" (did you mean "cutoff"?)
//	campaigns/mfa.yaml:12: batch_size: 21 is more than 20, the most subscribers the bot puts on one task
//
// Secrets are never read from YAML: the Conduit token comes from the
// AUDITBOT_CONDUIT_TOKEN environment variable or from conduit.token_file
// (see Config.Token).
//
// The package does no network calls and touches the file system only to
// read the files it is asked to load.
package campaigns
