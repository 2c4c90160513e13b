package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/acme/module-registry/runtime/moduleaddr"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/validator"
)

// The Terraform module registry protocol (service discovery, versions, download),
// served from the packages the registry already holds: a module version is the
// package moduleaddr.Address.PackageName() at that version, a tar.gz of the module.
//
// The download answer points Terraform at the archive with
// `?archive=tar.gz&checksum=sha256:<recorded digest>`, so Terraform's module
// installer verifies the bytes before unpacking them, whatever sits between it and
// the storage. Terraform sends its registry token to these endpoints but not
// necessarily to the archive URL, so the archive URL carries its own authority: a
// presigned S3 URL on the AWS backend, and on the embedded backend a URL of this
// registry signed for the requesting user, the version and its digest, valid for
// PresignTTL.

// ModulesPath is where the modules.v1 service is served.
const ModulesPath = "/v1/modules/"

// maxModuleVersions bounds how many versions of one module a versions answer reads.
const maxModuleVersions = 10000

// archiveKey signs archive URLs of the embedded backend. That backend runs as a
// single process (its metadata file is locked), so a key of the process suffices:
// URLs live at most MaxPresignTTL and a restart merely invalidates outstanding ones.
var archiveKey = func() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("reading random bytes for the archive URL key: " + err.Error())
	}
	return b
}()

func (s *Server) handleTerraformDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"modules.v1": ModulesPath})
}

// moduleAddress reads and validates namespace/name/system from the path.
func moduleAddress(r *http.Request) (moduleaddr.Address, error) {
	a, err := moduleaddr.New(r.PathValue("namespace"), r.PathValue("name"), r.PathValue("system"))
	if err != nil {
		return a, errorf(http.StatusBadRequest, "%v", err)
	}
	return a, nil
}

// moduleCoords reads the module's address and version from the path.
func moduleCoords(r *http.Request) (moduleaddr.Address, string, error) {
	a, err := moduleAddress(r)
	if err != nil {
		return a, "", err
	}
	v := r.PathValue("version")
	if err := moduleaddr.CheckVersion(v); err != nil {
		return a, v, errorf(http.StatusBadRequest, "%v", err)
	}
	return a, v, nil
}

type moduleVersionsBody struct {
	Modules []moduleVersionsEntry `json:"modules"`
}

type moduleVersionsEntry struct {
	Source   string         `json:"source"`
	Versions []versionEntry `json:"versions"`
}

type versionEntry struct {
	Version string `json:"version"`
}

func (s *Server) handleModuleVersions(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err == nil && !p.User.Has(storage.PermSearch) {
		err = p.Require(storage.PermDownload)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	addr, err := moduleAddress(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	versions, err := s.moduleVersions(r.Context(), addr.PackageName())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(versions) == 0 {
		writeError(w, r, errorf(http.StatusNotFound, "module %s has no versions here (a version is published as the package %s)", addr, addr.PackageName()))
		return
	}
	writeJSON(w, http.StatusOK, moduleVersionsBody{Modules: []moduleVersionsEntry{{Source: addr.String(), Versions: versions}}})
}

// moduleVersions lists the semantic versions of the package name; others are not
// module versions Terraform could select.
func (s *Server) moduleVersions(ctx context.Context, name string) ([]versionEntry, error) {
	const page = 1000
	out := []versionEntry{}
	for offset := 0; offset < maxModuleVersions; offset += page {
		pkgs, total, err := s.cfg.Backend.Meta.ListPackages(ctx, storage.ListOptions{Name: name, Offset: offset, Limit: page})
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			if moduleaddr.ValidVersion(p.Version) {
				out = append(out, versionEntry{p.Version})
			}
		}
		if len(pkgs) == 0 || offset+len(pkgs) >= total {
			break
		}
	}
	return out, nil
}

// modulePackage loads the package of a module version, with a not-found message in
// the module's terms.
func (s *Server) modulePackage(ctx context.Context, addr moduleaddr.Address, version string) (storage.Package, error) {
	pkg, err := s.cfg.Backend.Meta.GetPackage(ctx, addr.PackageName(), version)
	if errors.Is(err, storage.ErrNotFound) {
		return pkg, errorf(http.StatusNotFound, "module %s has no version %s here", addr, version)
	}
	return pkg, err
}

// auditModule names the package in the transfer record once the path is known to
// be a module address (the record otherwise holds the raw path values).
func auditModule(r *http.Request, rec *storage.TransferRecord) {
	if addr, err := moduleAddress(r); err == nil {
		rec.Name = addr.PackageName()
	}
}

func (s *Server) handleModuleDownload(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, auditDownload, func(rec *storage.TransferRecord) error {
		auditModule(r, rec)
		p, err := s.authorize(r, storage.PermDownload)
		if err != nil {
			return err
		}
		addr, version, err := moduleCoords(r)
		if err != nil {
			return err
		}
		pkg, err := s.modulePackage(r.Context(), addr, version)
		if err != nil {
			return err
		}
		rec.SHA256, rec.Size, rec.Detail = pkg.SHA256, pkg.Size, "module archive url"
		// The archive URL is the download (presigned, or signed by this registry).
		if err := s.gate(r, rec, pkg, p.User, validator.RequestDownloadURL); err != nil {
			return err
		}
		location, err := s.archiveLocation(r, rec, addr, pkg, p.User)
		if err != nil {
			return err
		}
		w.Header().Set("X-Terraform-Get", location)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// archiveLocation is where Terraform fetches the archive of pkg: a presigned URL of
// the blob store where there is one (after checking the store's checksum), else
// this registry's archive endpoint signed for the user's account. Either carries
// the checksum.
func (s *Server) archiveLocation(r *http.Request, rec *storage.TransferRecord, addr moduleaddr.Address, pkg storage.Package, user storage.User) (string, error) {
	checksum := "archive=tar.gz&checksum=sha256:" + pkg.SHA256
	if ps := s.cfg.Backend.Presign; ps != nil {
		if err := s.verifyStored(r, rec, ps, pkg); err != nil {
			return "", err
		}
		req, err := ps.PresignDownload(r.Context(), pkg.BlobKey, s.cfg.PresignTTL)
		if err != nil {
			return "", err
		}
		u, err := url.Parse(req.URL)
		if err != nil {
			return "", err
		}
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += checksum
		return u.String(), nil
	}
	expires := s.cfg.Now().Add(s.cfg.PresignTTL).Unix()
	q := url.Values{
		"user":      {user.Name},
		"account":   {user.ID},
		"expires":   {strconv.FormatInt(expires, 10)},
		"signature": {archiveSignature(pkg, user.Name, user.ID, expires)},
	}
	// Relative: Terraform resolves it against the download URL, so it works behind
	// any host name or proxy the registry is reached through.
	return archivePath(addr, pkg.Version) + "?" + q.Encode() + "&" + checksum, nil
}

func archivePath(addr moduleaddr.Address, version string) string {
	return ModulesPath + addr.String() + "/" + url.PathEscape(version) + "/archive.tar.gz"
}

// archiveSignature binds an archive URL to the package version, its recorded
// digest (a version deleted and uploaded again does not match), the user's name and
// account (an account deleted and created again under that name does not match) and
// the expiry.
func archiveSignature(pkg storage.Package, user, account string, expires int64) string {
	m := hmac.New(sha256.New, archiveKey)
	for _, f := range []string{"module-archive-v1", pkg.Name, pkg.Version, pkg.SHA256, user, account, strconv.FormatInt(expires, 10)} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// handleModuleArchive streams a module archive to the holder of a signed archive
// URL, verified while streaming like any package download and recorded under the
// user the URL was signed for.
func (s *Server) handleModuleArchive(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, auditDownload, func(rec *storage.TransferRecord) error {
		auditModule(r, rec)
		addr, version, err := moduleCoords(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		user, account, sig := q.Get("user"), q.Get("account"), q.Get("signature")
		expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		if err != nil || user == "" || sig == "" {
			return errorf(http.StatusForbidden, "archive URL lacks its user, expires or signature parameter; run terraform init again for a fresh one")
		}
		if now := s.cfg.Now(); now.Unix() > expires {
			return errorf(http.StatusForbidden, "archive URL expired at %s; run terraform init again for a fresh one", time.Unix(expires, 0).UTC().Format(time.RFC3339))
		}
		// A missing version answers like a bad signature, so that the endpoint tells
		// a caller without a valid URL nothing about what exists.
		pkg, err := s.modulePackage(r.Context(), addr, version)
		if status, _ := statusOf(err); err != nil && status != http.StatusNotFound {
			return err
		}
		if err != nil || !hmac.Equal([]byte(sig), []byte(archiveSignature(pkg, user, account, expires))) {
			return errorf(http.StatusForbidden, "archive URL signature does not match a current version (altered, or the version was replaced or removed since the URL was issued)")
		}
		u, err := s.cfg.Backend.Meta.GetUser(r.Context(), user)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && u.ID != account) {
			return errorf(http.StatusForbidden, "the account %q this archive URL was issued to no longer exists", user)
		}
		if err != nil {
			return err
		}
		infoFrom(r.Context()).user = u.Name
		if !u.Has(storage.PermDownload) {
			return errorf(http.StatusForbidden, "user %q no longer holds the %q permission", u.Name, storage.PermDownload)
		}
		rec.SHA256, rec.Size, rec.Detail = pkg.SHA256, pkg.Size, "module archive"
		return s.streamPackage(w, r, rec, pkg)
	})
}
