package neo4jsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// The admin API: a JSON-over-HTTP handler that applies faults and operations to a running
// Server, for users and chaos tests that drive the simulator from outside its process
// (cmd/neo4jsim --admin-listen). Every request and reply body is a JSON object; a rejected
// request gets {"error": {"code": "BAD_REQUEST" | "NOT_FOUND", "message": "..."}} with status
// 400 or 404 (an unknown database), an unknown path net/http's 404 and a wrong method its 405.
//
//	GET  /status                          counters, faults in force, every database's CDC position
//	POST /connections/drop                {}                                  -> {"dropped": n}
//	POST /connections/refuse              {"refuse": true}                    -> {"refusing": true}
//	POST /statements/fail                 {"count": n, "code": "...", "message": "..."} -> {"pendingFailures": n}
//	POST /statements/fail-fraction        {"fraction": 0.05, "code": "...", "message": "..."} -> {"failFraction": 0.05}
//	POST /statements/delay                {"delay": "250ms"}                  -> {"delay": "250ms"}
//	POST /databases/{name}/prune          {"keepLast": n}                     -> the database's status
//	POST /databases/{name}/capture-mode   {"mode": "FULL" | "DIFF" | "OFF"}   -> the database's status
//	POST /databases/{name}/cdc            {"enabled": false}                  -> the database's status
//
// Codes default to DefaultFaultCode and must have the shape of a Neo4j status code. CDC
// enabled=false is capture mode OFF; enabled=true restores the mode in force before the last
// switch to OFF (FULL when there was none). Switching CDC off and on outdates every change id
// handed out before, as on Neo4j.

// Status is the reply of GET /status.
type Status struct {
	// Address is the Bolt listen address.
	Address string `json:"address"`
	// Stats are the server's counters.
	Stats Stats `json:"stats"`
	// Faults are the faults in force now.
	Faults FaultState `json:"faults"`
	// Databases are the databases in name order.
	Databases []DatabaseStatus `json:"databases"`
}

// DatabaseStatus describes one database's CDC log.
type DatabaseStatus struct {
	// Name is the database name.
	Name string `json:"name"`
	// CaptureMode is FULL, DIFF or OFF.
	CaptureMode string `json:"captureMode"`
	// LastTxID is the id of the last committed transaction.
	LastTxID int64 `json:"lastTxId"`
	// CurrentChangeID is db.cdc.current (the last change id); empty while CDC is off.
	CurrentChangeID string `json:"currentChangeId,omitempty"`
	// EarliestChangeID is db.cdc.earliest; empty while CDC is off.
	EarliestChangeID string `json:"earliestChangeId,omitempty"`
}

// adminAPI serves the admin API of one Server.
type adminAPI struct {
	srv *Server
	// mu guards lastMode.
	mu sync.Mutex
	// lastMode is the capture mode of each database before its last switch to OFF.
	lastMode map[string]string
}

// AdminHandler returns the admin API of s (see the table above) as an http.Handler. Serve it
// on a loopback address only: it takes every fault and operation without authentication.
func (s *Server) AdminHandler() http.Handler {
	a := &adminAPI{srv: s, lastMode: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", a.status)
	mux.HandleFunc("POST /connections/drop", a.drop)
	mux.HandleFunc("POST /connections/refuse", a.refuse)
	mux.HandleFunc("POST /statements/fail", a.failNext)
	mux.HandleFunc("POST /statements/fail-fraction", a.failFraction)
	mux.HandleFunc("POST /statements/delay", a.delay)
	mux.HandleFunc("POST /databases/{name}/prune", a.prune)
	mux.HandleFunc("POST /databases/{name}/capture-mode", a.captureMode)
	mux.HandleFunc("POST /databases/{name}/cdc", a.cdc)
	return mux
}

// maxAdminBody bounds a request body.
const maxAdminBody = 64 << 10

// decode reads the request body into v, rejecting unknown fields and trailing data. An empty
// body is an empty object.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return true
	}
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", "invalid request body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeAdminError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// database returns the database named in the path, or answers 404.
func (a *adminAPI) database(w http.ResponseWriter, r *http.Request) (*Database, bool) {
	name := r.PathValue("name")
	db := a.srv.dbms.Database(name)
	if db == nil {
		writeAdminError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no database %q", name))
		return nil, false
	}
	return db, true
}

func databaseStatus(db *Database) DatabaseStatus {
	st := DatabaseStatus{Name: db.Name(), CaptureMode: db.CaptureMode(), LastTxID: db.LastTxID()}
	if id, err := db.Current(); err == nil {
		st.CurrentChangeID = id
	}
	if id, err := db.Earliest(); err == nil {
		st.EarliestChangeID = id
	}
	return st
}

func (a *adminAPI) status(w http.ResponseWriter, _ *http.Request) {
	st := Status{Address: a.srv.Addr(), Stats: a.srv.Stats(), Faults: a.srv.FaultState(), Databases: []DatabaseStatus{}}
	for _, name := range a.srv.dbms.DatabaseNames() {
		st.Databases = append(st.Databases, databaseStatus(a.srv.dbms.Database(name)))
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *adminAPI) drop(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !decode(w, r, &req) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"dropped": a.srv.DropConnections()})
}

func (a *adminAPI) refuse(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Refuse *bool `json:"refuse"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Refuse == nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", `"refuse" (true or false) is required`)
		return
	}
	a.srv.RefuseConnections(*req.Refuse)
	writeJSON(w, http.StatusOK, map[string]bool{"refusing": *req.Refuse})
}

// faultCode validates an optional code, defaulting to DefaultFaultCode.
func faultCode(w http.ResponseWriter, code string) (string, bool) {
	if code == "" {
		return DefaultFaultCode, true
	}
	if err := ValidateFaultCode(code); err != nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return "", false
	}
	return code, true
}

func (a *adminAPI) failNext(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Count   *int   `json:"count"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Count == nil || *req.Count < 0 {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", `"count" (0 or more; 0 cancels) is required`)
		return
	}
	code, ok := faultCode(w, req.Code)
	if !ok {
		return
	}
	msg := req.Message
	if msg == "" {
		msg = "Injected by neo4jsim: " + code
	}
	a.srv.FailNext(*req.Count, code, msg)
	writeJSON(w, http.StatusOK, map[string]int{"pendingFailures": *req.Count})
}

func (a *adminAPI) failFraction(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fraction *float64 `json:"fraction"`
		Code     string   `json:"code"`
		Message  string   `json:"message"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Fraction == nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", `"fraction" (0 to 1) is required`)
		return
	}
	if _, ok := faultCode(w, req.Code); !ok {
		return
	}
	if err := a.srv.SetFailFraction(*req.Fraction, req.Code, req.Message); err != nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]float64{"failFraction": *req.Fraction})
}

func (a *adminAPI) delay(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Delay *string `json:"delay"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Delay == nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", `"delay" (a duration such as "250ms"; "0s" switches it off) is required`)
		return
	}
	d, err := time.ParseDuration(*req.Delay)
	if err != nil || d < 0 {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("delay %q is not a non-negative duration such as \"250ms\"", *req.Delay))
		return
	}
	a.srv.SetDelay(d)
	writeJSON(w, http.StatusOK, map[string]string{"delay": d.String()})
}

func (a *adminAPI) prune(w http.ResponseWriter, r *http.Request) {
	db, ok := a.database(w, r)
	if !ok {
		return
	}
	var req struct {
		KeepLast *int `json:"keepLast"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.KeepLast == nil || *req.KeepLast < 0 {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", `"keepLast" (transactions to keep, 0 or more) is required`)
		return
	}
	db.Prune(*req.KeepLast)
	writeJSON(w, http.StatusOK, databaseStatus(db))
}

func (a *adminAPI) captureMode(w http.ResponseWriter, r *http.Request) {
	db, ok := a.database(w, r)
	if !ok {
		return
	}
	var req struct {
		Mode string `json:"mode"`
	}
	if !decode(w, r, &req) {
		return
	}
	a.setMode(w, db, req.Mode)
}

func (a *adminAPI) cdc(w http.ResponseWriter, r *http.Request) {
	db, ok := a.database(w, r)
	if !ok {
		return
	}
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Enabled == nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", `"enabled" (true or false) is required`)
		return
	}
	mode := ModeOff
	if *req.Enabled {
		a.mu.Lock()
		mode = a.lastMode[db.Name()]
		a.mu.Unlock()
		if cur := db.CaptureMode(); cur != ModeOff {
			mode = cur // already on: keep the mode
		} else if mode == "" {
			mode = ModeFull
		}
	}
	a.setMode(w, db, mode)
}

// setMode switches db's capture mode, remembering the mode left when switching to OFF.
func (a *adminAPI) setMode(w http.ResponseWriter, db *Database, mode string) {
	prev := db.CaptureMode()
	if err := db.SetCaptureMode(mode); err != nil {
		writeAdminError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	if db.CaptureMode() == ModeOff && prev != ModeOff {
		a.mu.Lock()
		a.lastMode[db.Name()] = prev
		a.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, databaseStatus(db))
}
