package templates

// StandingTaskData is the data of the standing-task template: the
// description of a recurring campaign's task for the team.
type StandingTaskData struct {
	Campaign
	Every string // the period between runs, such as "7d"
}

// Count is a number of users with something in common (a status, a
// reason), as the texts list them.
type Count struct {
	Status string // trusted text: a status or ReasonNoMFA, ReasonDisabled
	N      int
}

// RunSummaryData is the data of the run-summary template: what a
// recurring run found compared with the run before.
type RunSummaryData struct {
	Campaign
	Run   int    // 1 for the first run after launch
	Since string // "YYYY-MM-DD": the run (or launch) compared with
	// New are the members found non-compliant now and not before;
	// ReasonCounts counts them per reason.
	New          []Affected
	ReasonCounts []Count
	Fixed, Gone  []Person
	// Tasks are the tasks the run added new members on (mode join), or
	// Instance the campaign instance it started (mode instance); with
	// NewCutoffDate, their last day.
	Tasks         []string
	Instance      string
	NewCutoffDate string
	Pending       int // users still pending in the campaign
}

// ApprovalReminderData is the data of the approval-reminder template.
type ApprovalReminderData struct {
	Campaign
	BatchID             string // "R1"
	Days                int    // days the proposal has waited
	Approvals, Required int
	// Overdue: the second period; TeamTag is the team's project hashtag,
	// Tasks the proposal's tasks when it is told on the standing task.
	Overdue bool
	TeamTag string
	Tasks   []string
}

// CampaignClosedData is the data of the campaign-closed template.
type CampaignClosedData struct {
	Campaign
	Counts   []Count // users on the task (or in the campaign) per final status
	Standing bool    // the standing task: counts are the campaign's
}
