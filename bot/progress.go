package bot

// Progress is told how far a long loop is (discovery over many members,
// a launch filing many tasks), so that the command line can show a bar on
// a terminal or a log line now and then. The bot calls it; what it shows
// is the caller's business. Calls come from one goroutine.
type Progress interface {
	// Start begins a loop of total steps, described by what ("filing
	// tasks").
	Start(total int, what string)
	// Add counts n more steps done.
	Add(n int)
	// Done ends the loop, finished or not.
	Done()
}

// NoProgress shows nothing: the default.
type NoProgress struct{}

func (NoProgress) Start(int, string) {}
func (NoProgress) Add(int)           {}
func (NoProgress) Done()             {}
