package election_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv/election"
)

// A replica's life: campaign, then act through a guard built for the term,
// after replaying the journal it opened as leader; stop when the term
// ends. (Not run: it needs a PD.)
func Example() {
	ctx := context.Background()
	e, err := election.New(election.Config{Endpoints: []string{"http://127.0.0.1:2379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close(ctx)
	var sub subject.Subject // a tikv.Subject on the same PD
	for {
		term, err := e.Campaign(ctx)
		if err != nil {
			log.Fatal(err)
		}
		journal, err := os.OpenFile("journal.jsonl", os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
		if err != nil {
			log.Fatal(err)
		}
		g, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, Journal: journal, Leadership: term})
		if err != nil {
			log.Fatal(err)
		}
		if err := g.Replay(ctx, journal); err != nil {
			log.Print(err)
		}
		// ... act through g until the work is done or:
		<-term.Done()
		journal.Close()
	}
}

// A configuration that cannot work is refused before anything is dialled.
func ExampleNew() {
	_, err := election.New(election.Config{Prefix: "/pd/7012345/leader"})
	fmt.Println(err)
	// Output:
	// election: invalid argument: prefix "/pd/7012345/leader" is inside /pd/, which PD or TiDB use
}
