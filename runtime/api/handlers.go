package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/throttle"
)

// decodeJSON reads a JSON request body of at most Limits.MaxJSONBytes, which must
// arrive within Limits.BodyTimeout.
func decodeJSON(r *http.Request, w http.ResponseWriter, v any) error {
	limit := infoFrom(r.Context()).maxJSON
	if limit <= 0 {
		limit = DefaultMaxJSONBytes
	}
	if r.ContentLength > limit {
		return errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the %d-byte limit", r.ContentLength, limit)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", limit)
		case errors.Is(err, errTimeout):
			return err
		}
		return errorf(http.StatusBadRequest, "malformed JSON body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "malformed JSON body: trailing data")
	}
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	components := map[string]map[string]string{}
	status, overall := http.StatusOK, "ok"
	check := func(name string, err error) {
		if err != nil {
			loggerFrom(r.Context()).Error("health check failed", "component", name, "error", err.Error())
			components[name] = map[string]string{"status": "unavailable"}
			status, overall = http.StatusServiceUnavailable, "degraded"
			return
		}
		components[name] = map[string]string{"status": "ok"}
	}
	check("metadata", s.cfg.Backend.Meta.Ping(r.Context()))
	check("blobs", s.cfg.Backend.Blobs.Ping(r.Context()))
	if s.cfg.Auth == nil {
		components["auth"] = map[string]string{"status": "not_configured"}
	} else {
		components["auth"] = map[string]string{"status": "ok"}
	}
	writeJSON(w, status, map[string]any{"status": overall, "components": components})
}

func (s *Server) handleTracks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"plannedTracks": {"Access control track"}})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPIDoc)
}

type authRequest struct {
	User *struct {
		Name    string `json:"name"`
		IsAdmin bool   `json:"is_admin"`
	} `json:"user"`
	Secret *struct {
		Password string `json:"password"`
	} `json:"secret"`
}

func (s *Server) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Auth == nil {
		writeError(w, r, errNotConfigured)
		return
	}
	var req authRequest
	if err := decodeJSON(r, w, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.User == nil || req.User.Name == "" || req.Secret == nil || req.Secret.Password == "" {
		writeError(w, r, errorf(http.StatusBadRequest, "body must be {\"user\": {\"name\": ...}, \"secret\": {\"password\": ...}}"))
		return
	}
	if err := ValidateUserName(req.User.Name); err != nil {
		writeError(w, r, err)
		return
	}
	// Failed logins slow down their name and their address, before any password
	// check is spent on them.
	address := throttleKey(infoFrom(r.Context()).client)
	if err := s.guards.admitLogin(address, req.User.Name); err != nil {
		loggerFrom(r.Context()).Debug("login throttled", "user", req.User.Name)
		writeError(w, r, err)
		return
	}
	tok, err := s.cfg.Auth.Login(r.Context(), req.User.Name, req.Secret.Password)
	s.guards.loginDone(address, req.User.Name, err)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) { // one line per password check, so bounded
			loggerFrom(r.Context()).Info("login failed", "user", req.User.Name)
		}
		writeError(w, r, err)
		return
	}
	infoFrom(r.Context()).user = req.User.Name
	writeJSON(w, http.StatusOK, tok)
}

// ---- packages ----

type packageView struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	SHA256     string `json:"sha256_hash"`
	Size       int64  `json:"size"`
	UploadedAt string `json:"uploaded_at"`
	Uploader   string `json:"uploader"`
}

func viewOf(p storage.Package) packageView {
	return packageView{p.Name, p.Version, p.SHA256, p.Size, p.UploadedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), p.Uploader}
}

func pathCoords(r *http.Request) (string, string, error) {
	name, version := r.PathValue("name"), r.PathValue("version")
	if err := ValidateName(name); err != nil {
		return name, version, err
	}
	if err := ValidateVersion(version); err != nil {
		return name, version, err
	}
	return name, version, nil
}

// authorizePackage authorizes perm and validates the package coordinates
// in the path, in that order.
func (s *Server) authorizePackage(r *http.Request, perm string) (auth.Principal, string, string, error) {
	p, err := s.authorize(r, perm)
	if err != nil {
		return p, "", "", err
	}
	name, version, err := pathCoords(r)
	return p, name, version, err
}

func intParam(q url.Values, key string, def, min, max int) (int, error) {
	v := q.Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, errorf(http.StatusBadRequest, "%s must be an integer between %d and %d", key, min, max)
	}
	return n, nil
}

func (s *Server) handleListPackages(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authorize(r, storage.PermSearch); err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query() // parsed once: this is the hottest authenticated endpoint
	offset, err := intParam(q, "offset", 0, 0, 1<<30)
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit, err := intParam(q, "limit", 100, 1, 1000)
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := q.Get("name")
	if name != "" {
		if err := ValidateName(name); err != nil {
			writeError(w, r, err)
			return
		}
	}
	pkgs, total, err := s.cfg.Backend.Meta.ListPackages(r.Context(), storage.ListOptions{Name: name, Offset: offset, Limit: limit})
	if err != nil {
		writeError(w, r, err)
		return
	}
	views := make([]packageView, 0, len(pkgs))
	for _, p := range pkgs {
		views = append(views, viewOf(p))
	}
	// A struct rather than a map (cheaper to encode); fields in the order a map's
	// sorted keys had, so the bytes are the same.
	resp := struct {
		Limit      int           `json:"limit"`
		NextOffset *int          `json:"next_offset,omitempty"`
		Offset     int           `json:"offset"`
		Packages   []packageView `json:"packages"`
		Total      int           `json:"total"`
	}{Limit: limit, Offset: offset, Packages: views, Total: total}
	if next := offset + len(pkgs); next < total {
		resp.NextOffset = &next
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleDeletePackage(w http.ResponseWriter, r *http.Request) {
	_, name, version, err := s.authorizePackage(r, storage.PermAdmin)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The validator first (the AWS store deletes its S3 version): a later upload of
	// the same version does not inherit it.
	if vs := s.cfg.Backend.Validators; vs != nil {
		if _, err := vs.DeleteValidator(r.Context(), name, version); err != nil && !errors.Is(err, storage.ErrNotFound) {
			writeError(w, r, err)
			return
		}
	}
	p, err := s.cfg.Backend.Meta.DeletePackage(r.Context(), name, version)
	if err != nil {
		writeError(w, r, packageNotFound(err, name, version))
		return
	}
	if err := s.cfg.Backend.Blobs.Delete(r.Context(), p.BlobKey); err != nil {
		loggerFrom(r.Context()).Error("deleting blob of removed package", "package", contract.PackageKey(name, version), "error", err.Error())
	}
	loggerFrom(r.Context()).Info("package deleted", "package", contract.PackageKey(name, version))
	writeJSON(w, http.StatusOK, viewOf(p))
}

// ---- users ----

type userView struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

type createUserRequest struct {
	Name        string   `json:"name"`
	Password    string   `json:"password"`
	Permissions []string `json:"permissions"`
}

// MinPasswordLen is the shortest password accepted for a new user.
const MinPasswordLen = 12

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authorize(r, storage.PermAdmin); err != nil {
		writeError(w, r, err)
		return
	}
	users, err := s.cfg.Backend.Meta.ListUsers(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, userView{u.Name, u.Permissions})
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// ValidateUserName checks a user name: what user creation accepts, so a login with
// any other name is refused before the store is asked.
func ValidateUserName(name string) error {
	return validIdent("user name", name, MaxUserNameLen, "._-@")
}

// MaxUserNameLen caps a user name.
const MaxUserNameLen = 64

// permissionsOf validates perms and returns them sorted, without duplicates.
func permissionsOf(perms []string) ([]string, error) {
	for _, perm := range perms {
		if !slices.Contains(storage.AllPermissions, perm) {
			return nil, errorf(http.StatusBadRequest, "unknown permission %q (valid: %s)", perm, strings.Join(storage.AllPermissions, ", "))
		}
	}
	out := slices.Compact(slices.Sorted(slices.Values(perms)))
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// authorizeJSON authorizes perm and then reads the JSON body into v.
func (s *Server) authorizeJSON(w http.ResponseWriter, r *http.Request, perm string, v any) (auth.Principal, error) {
	p, err := s.authorize(r, perm)
	if err == nil {
		err = decodeJSON(r, w, v)
	}
	return p, err
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	p, err := s.authorizeJSON(w, r, storage.PermAdmin, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := ValidateUserName(req.Name); err != nil {
		writeError(w, r, err)
		return
	}
	if len(req.Password) < MinPasswordLen {
		writeError(w, r, errorf(http.StatusBadRequest, "password must be at least %d characters", MinPasswordLen))
		return
	}
	perms, err := permissionsOf(req.Permissions)
	if err != nil {
		writeError(w, r, err)
		return
	}
	hash, err := s.cfg.Auth.HashPassword(req.Password)
	if err != nil {
		if !errors.Is(err, throttle.ErrBusy) {
			err = errorf(http.StatusBadRequest, "%v", err)
		}
		writeError(w, r, err)
		return
	}
	u := storage.User{Name: req.Name, ID: storage.NewAccountID(), PasswordHash: hash, Permissions: perms, CreatedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Backend.Meta.CreateUser(r.Context(), u); err != nil {
		writeError(w, r, err)
		return
	}
	loggerFrom(r.Context()).Info("user created", "new_user", u.Name, "permissions", perms, "by", p.User.Name)
	writeJSON(w, http.StatusCreated, userView{u.Name, perms})
}

type updateUserRequest struct {
	Permissions *[]string `json:"permissions"`
}

// handleUpdateUser replaces a user's permissions. The account stays the same, so its
// tokens stay valid and carry the new permissions from their next request on.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) {
	var req updateUserRequest
	p, err := s.authorizeJSON(w, r, storage.PermAdmin, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Permissions == nil {
		writeError(w, r, errorf(http.StatusBadRequest, "body must be {\"permissions\": [...]}"))
		return
	}
	perms, err := permissionsOf(*req.Permissions)
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := r.PathValue("name")
	if name == p.User.Name {
		writeError(w, r, errorf(http.StatusBadRequest, "an administrator cannot change their own permissions"))
		return
	}
	u, err := s.cfg.Backend.Meta.GetUser(r.Context(), name)
	if err == nil {
		changed := u
		changed.Permissions = perms
		// Conditional on the account read: a user deleted and re-created meanwhile is
		// another account and is left alone.
		err = s.cfg.Backend.Meta.UpdateUser(r.Context(), changed, u.ID)
	}
	if err != nil {
		writeError(w, r, userNotFound(err, name))
		return
	}
	loggerFrom(r.Context()).Info("user permissions changed", "changed_user", name, "permissions", perms, "by", p.User.Name)
	writeJSON(w, http.StatusOK, userView{name, perms})
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	p, err := s.authorize(r, storage.PermAdmin)
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := r.PathValue("name")
	if name == p.User.Name {
		writeError(w, r, errorf(http.StatusBadRequest, "an administrator cannot delete their own account"))
		return
	}
	if err := s.cfg.Backend.Meta.DeleteUser(r.Context(), name); err != nil {
		writeError(w, r, userNotFound(err, name))
		return
	}
	loggerFrom(r.Context()).Info("user deleted", "deleted_user", name, "by", p.User.Name)
	w.WriteHeader(http.StatusNoContent)
}

// packageNotFound and userNotFound say in the API's words which package or user a
// store's ErrNotFound is about (stores word it by table and key); other errors pass.
func packageNotFound(err error, name, version string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("package %s %s %w", name, version, storage.ErrNotFound)
	}
	return err
}

func userNotFound(err error, name string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("user %s %w", name, storage.ErrNotFound)
	}
	return err
}
