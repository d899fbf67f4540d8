package election

// Die ends e as a killed process would: its keep-alives stop and its
// connection closes, but it neither resigns nor revokes its lease, which
// lives on in etcd until its TTL runs out.
func Die(e *Election) {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	// Cancelling the life first makes every revocation the terms would
	// attempt fail at once, before anything is sent.
	e.stop()
	e.wg.Wait()
	e.mu.Lock()
	s := e.session
	e.mu.Unlock()
	if s != nil {
		s.Orphan()
	}
	_ = e.client.Close()
}

// Endpoint exposes the endpoint normalisation to the tests.
var Endpoint = endpoint
