package rootfs

// Waiting returns how many Fetch calls wait on downloads in flight, so that
// a test can hold a download until every caller has joined it instead of
// sleeping and hoping they did.
func Waiting(f *Fetcher) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, fl := range f.flights {
		n += fl.waiters
	}
	return n
}
