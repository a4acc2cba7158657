package demo

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// gitHost serves one repository over git's smart HTTP protocol from inside
// the process (go-git's server), so the demo needs no git installed: the
// loop talks to it exactly as to a Git host.
type gitHost struct {
	t  transport.Transport
	ep *transport.Endpoint
}

// fixedLoader serves st for every endpoint.
type fixedLoader struct{ st storer.Storer }

func (l fixedLoader) Load(*transport.Endpoint) (storer.Storer, error) { return l.st, nil }

// serveGit serves st on 127.0.0.1 and returns the server and the repository URL.
func serveGit(st storer.Storer) (*httptest.Server, string, error) {
	ep, err := transport.NewEndpoint("/deploy.git")
	if err != nil {
		return nil, "", err
	}
	h := &gitHost{t: server.NewServer(fixedLoader{st}), ep: ep}
	srv := httptest.NewServer(h)
	return srv, srv.URL + "/deploy.git", nil
}

func (h *gitHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var err error
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs"):
		err = h.advertise(w, r.URL.Query().Get("service"))
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		err = h.uploadPack(w, r)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
		err = h.receivePack(w, r)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (h *gitHost) advertise(w http.ResponseWriter, service string) error {
	var ar *packp.AdvRefs
	var err error
	switch service {
	case transport.UploadPackServiceName:
		var s transport.UploadPackSession
		if s, err = h.t.NewUploadPackSession(h.ep, nil); err == nil {
			ar, err = s.AdvertisedReferences()
		}
	case transport.ReceivePackServiceName:
		var s transport.ReceivePackSession
		if s, err = h.t.NewReceivePackSession(h.ep, nil); err == nil {
			ar, err = s.AdvertisedReferences()
		}
	default:
		return fmt.Errorf("unknown service %q", service)
	}
	if err != nil {
		return err
	}
	ar.Prefix = [][]byte{[]byte("# service=" + service), pktline.Flush}
	var b bytes.Buffer
	if err := ar.Encode(&b); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	_, err = w.Write(b.Bytes())
	return err
}

func (h *gitHost) uploadPack(w http.ResponseWriter, r *http.Request) error {
	req := packp.NewUploadPackRequest()
	if err := req.UploadRequest.Decode(r.Body); err != nil {
		return err
	}
	// Then "have <hash>" lines, up to "done".
	sc := pktline.NewScanner(r.Body)
	for sc.Scan() {
		line := strings.TrimSpace(string(sc.Bytes()))
		if line == "done" {
			break
		}
		if hash, ok := strings.CutPrefix(line, "have "); ok {
			req.Haves = append(req.Haves, plumbing.NewHash(hash))
		}
	}
	s, err := h.t.NewUploadPackSession(h.ep, nil)
	if err != nil {
		return err
	}
	resp, err := s.UploadPack(r.Context(), req)
	if err != nil {
		return err
	}
	defer resp.Close()
	w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
	return resp.Encode(w)
}

func (h *gitHost) receivePack(w http.ResponseWriter, r *http.Request) error {
	req := packp.NewReferenceUpdateRequest()
	if err := req.Decode(r.Body); err != nil {
		return err
	}
	s, err := h.t.NewReceivePackSession(h.ep, nil)
	if err != nil {
		return err
	}
	rs, err := s.ReceivePack(r.Context(), req)
	if rs == nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
	return rs.Encode(w)
}
