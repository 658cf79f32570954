package server

// Waiting returns how many long-polls this replica holds, so a test can
// start a wake-up only once the agent it is meant for is waiting.
func (s *Server) Waiting() int { return s.disp.Waiting() }
