package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/acme/module-registry/runtime/client"
)

var allPermissions = []string{client.PermUpload, client.PermDownload, client.PermSearch, client.PermAdmin}

// permissionList parses "upload,download"; "" is no permission.
func permissionList(s string) ([]string, error) {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(allPermissions, p) {
			return nil, usagef("unknown permission %q (valid: %s)", p, strings.Join(allPermissions, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

func (c *cli) users(fs *flag.FlagSet, args []string) error {
	perms := fs.String("permissions", "", "for add and set: comma-separated, of "+strings.Join(allPermissions, ", "))
	fromStdin := fs.Bool("password-stdin", false, "for add: read the new user's password from the first line of stdin")
	pos, err := parse(fs, args, 0, 2)
	if err != nil {
		return err
	}
	sub, name := "ls", ""
	if len(pos) > 0 {
		sub = pos[0]
	}
	if len(pos) > 1 {
		name = pos[1]
	}
	permsSet := false
	fs.Visit(func(f *flag.Flag) { permsSet = permsSet || f.Name == "permissions" })
	needName := sub == "add" || sub == "set" || sub == "rm"
	switch {
	case sub != "ls" && !needName:
		return usagef("users: unknown subcommand %q (ls, add, set, rm)", sub)
	case needName != (name != ""):
		return usagef("users %s: wrong number of arguments (run with --help)", sub)
	case sub == "set" && !permsSet:
		return usagef("users set: --permissions is required (\"\" for none)")
	}
	list, err := permissionList(*perms)
	if err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch sub {
	case "add":
		pw, err := c.newPassword(*fromStdin, name)
		if err != nil {
			return err
		}
		u, err := s.client.CreateUser(ctx, client.NewUser{Name: name, Password: pw, Permissions: list})
		if err != nil {
			return err
		}
		return c.print(u, func(w io.Writer) {
			fmt.Fprintf(w, "Created %s with permissions [%s].\n", u.Name, strings.Join(u.Permissions, ", "))
		})
	case "set":
		u, err := s.client.SetPermissions(ctx, name, list)
		if err != nil {
			return err
		}
		return c.print(u, func(w io.Writer) { fmt.Fprintf(w, "%s now holds [%s].\n", u.Name, strings.Join(u.Permissions, ", ")) })
	case "rm":
		if err := s.client.DeleteUser(ctx, name); err != nil {
			return err
		}
		return c.print(map[string]string{"deleted": name}, func(w io.Writer) { fmt.Fprintf(w, "Deleted %s.\n", name) })
	}
	users, err := s.client.Users(ctx)
	if err != nil {
		return err
	}
	return c.print(map[string]any{"users": users}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPERMISSIONS")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\n", u.Name, strings.Join(u.Permissions, ","))
		}
		tw.Flush()
	})
}

// newPassword reads a new user's password: from stdin, or typed twice on a terminal.
func (c *cli) newPassword(fromStdin bool, user string) (string, error) {
	pw, err := c.readSecret(fromStdin, "Password for the new user "+user+": ")
	if err != nil || fromStdin {
		return pw, err
	}
	again, err := c.readPassword("Again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", usagef("the two passwords differ")
	}
	return pw, nil
}
