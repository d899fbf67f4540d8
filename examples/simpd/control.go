package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kvops/operator/subject"
)

// controlPrefix is where the control API is served, beside PD's
// /pd/api/v1 and /pd/api/v2, which it never shadows.
const controlPrefix = "/simpd/v1/"

// requestLine is a request that changed PD, or one to the control API.
type requestLine struct {
	Event  string `json:"event"` // "request" or "control"
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// handler serves the control API under controlPrefix and PD's API
// everywhere else, writing a line for each request that is not a read.
func (s *server) handler(pd http.Handler, out *events) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+controlPrefix+"stores/{id}/{action}", s.storeAction)
	mux.HandleFunc("POST "+controlPrefix+"pd-leader-change", func(w http.ResponseWriter, _ *http.Request) {
		s.cl.PDLeaderChange()
		answer(w, http.StatusOK, nil)
	})
	mux.HandleFunc("GET "+controlPrefix+"status", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		st := struct {
			readyLine
			Now string `json:"now"` // the cluster's time
		}{s.ready, s.cl.Now().Format("2006-01-02T15:04:05.000Z07:00")}
		s.mu.Unlock()
		st.Event = "status"
		answer(w, http.StatusOK, st)
	})
	mux.HandleFunc(controlPrefix, func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusNotFound, fmt.Errorf("no control %s %s", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		control := strings.HasPrefix(r.URL.Path, controlPrefix)
		if !control && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			pd.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		line := requestLine{Event: "request", Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery}
		if control {
			line.Event = "control"
			mux.ServeHTTP(rec, r)
		} else {
			pd.ServeHTTP(rec, r)
		}
		line.Status, line.Error = rec.status, rec.err
		out.write(line)
	})
}

// storeAction is POST /simpd/v1/stores/{id}/{action}.
func (s *server) storeAction(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		answer(w, http.StatusBadRequest, fmt.Errorf("store id %q: %w", r.PathValue("id"), subject.ErrInvalid))
		return
	}
	store := subject.StoreID(id)
	switch r.PathValue("action") {
	case "stop":
		err = s.cl.StopStore(store)
	case "start":
		err = s.cl.StartStore(store)
	case "restart":
		err = s.cl.RestartStore(store)
	case "stuck-leaders":
		n, perr := strconv.Atoi(r.URL.Query().Get("count"))
		if perr != nil {
			answer(w, http.StatusBadRequest, fmt.Errorf("count %q: %w", r.URL.Query().Get("count"), subject.ErrInvalid))
			return
		}
		err = s.cl.SetStuckLeaders(store, n)
	default:
		answer(w, http.StatusNotFound, fmt.Errorf("no store action %q (stop, start, restart, stuck-leaders)", r.PathValue("action")))
		return
	}
	switch {
	case errors.Is(err, subject.ErrNotFound):
		answer(w, http.StatusNotFound, err)
	case errors.Is(err, subject.ErrInvalid):
		answer(w, http.StatusBadRequest, err)
	case err != nil:
		answer(w, http.StatusInternalServerError, err)
	default:
		answer(w, http.StatusOK, nil)
	}
}

// answer writes v as JSON, an error as {"error": ...}, nothing as
// {"ok": true}.
func answer(w http.ResponseWriter, status int, v any) {
	switch e := v.(type) {
	case nil:
		v = map[string]bool{"ok": true}
	case error:
		v = map[string]string{"error": e.Error()}
		if rec, ok := w.(*statusRecorder); ok {
			rec.err = e.Error()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusRecorder keeps the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
	err    string
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
