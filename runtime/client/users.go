package client

import (
	"context"
	"net/http"
)

// Permissions a user can hold; admin implies all others.
const (
	PermUpload   = "upload"
	PermDownload = "download"
	PermSearch   = "search"
	PermAdmin    = "admin"
)

// User is a registry account as the registry shows it.
type User struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// NewUser is an account to create. The password needs at least 12 characters.
type NewUser struct {
	Name        string   `json:"name"`
	Password    string   `json:"password"`
	Permissions []string `json:"permissions"`
}

// Users lists the accounts (permission admin).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out struct {
		Users []User `json:"users"`
	}
	err := c.doJSON(ctx, request{method: http.MethodGet, path: "/users", auth: true, want: http.StatusOK}, &out)
	return out.Users, err
}

// CreateUser registers an account (permission admin); ErrConflict if the name is
// taken.
func (c *Client) CreateUser(ctx context.Context, u NewUser) (User, error) {
	if err := required("user name", u.Name, "password", u.Password); err != nil {
		return User{}, err
	}
	if u.Permissions == nil {
		u.Permissions = []string{}
	}
	var out User
	err := c.doJSON(ctx, request{method: http.MethodPost, path: "/users", json: u, auth: true, want: http.StatusCreated}, &out)
	return out, err
}

// DeleteUser removes an account (permission admin); an administrator cannot
// remove their own.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	if err := required("user name", name); err != nil {
		return err
	}
	return c.doJSON(ctx, request{method: http.MethodDelete, path: pathOf("users", name), auth: true, want: http.StatusNoContent}, nil)
}

type permissionsBody struct {
	Permissions []string `json:"permissions"`
}

// SetPermissions replaces a user's permissions (permission admin); an
// administrator cannot change their own.
func (c *Client) SetPermissions(ctx context.Context, name string, permissions []string) (User, error) {
	if err := required("user name", name); err != nil {
		return User{}, err
	}
	if permissions == nil {
		permissions = []string{}
	}
	var out User
	err := c.doJSON(ctx, request{method: http.MethodPatch, path: pathOf("users", name), json: permissionsBody{permissions}, auth: true, want: http.StatusOK}, &out)
	return out, err
}
