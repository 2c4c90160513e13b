package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/acme/module-registry/runtime/client"
)

func (c *cli) login(fs *flag.FlagSet, args []string) error {
	user := fs.String("user", "", "user name (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *user == "" {
		return usagef("login: --user is required")
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	pw, err := c.readSecret(*fromStdin, "Password for "+*user+" at "+s.url+": ")
	if err != nil {
		return err
	}
	token, err := s.client.Login(context.Background(), *user, pw)
	if err != nil {
		return err
	}
	saved := savedLogin{User: *user, Token: token}
	if claims, err := client.ReadTokenClaims(token); err == nil {
		saved.ExpiresAt = claims.ExpiresAt
	}
	s.creds.Registries[s.url] = saved
	s.creds.Current = s.url
	if err := s.store.save(s.creds); err != nil {
		return fmt.Errorf("keeping the token: %w", err)
	}
	out := map[string]any{"registry": s.url, "user": *user, "expires_at": saved.ExpiresAt, "credentials": s.store.path()}
	return c.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "Logged in to %s as %s (token valid until %s, kept in %s).\n", s.url, *user, saved.ExpiresAt.Local().Format(time.DateTime), s.store.path())
	})
}

func (c *cli) logout(fs *flag.FlagSet, args []string) error {
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	saved, ok := s.creds.Registries[s.url]
	delete(s.creds.Registries, s.url)
	if s.creds.Current == s.url {
		s.creds.Current = ""
	}
	if err := s.store.save(s.creds); err != nil {
		return err
	}
	return c.print(map[string]any{"registry": s.url, "logged_out": ok}, func(w io.Writer) {
		if !ok {
			fmt.Fprintf(w, "Not logged in to %s.\n", s.url)
			return
		}
		fmt.Fprintf(w, "Removed the token for %s from this machine (it stays valid until %s: tokens expire, they are not revoked).\n",
			s.url, saved.ExpiresAt.Local().Format(time.DateTime))
	})
}

func (c *cli) whoami(fs *flag.FlagSet, args []string) error {
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	token := s.client.Token()
	if token == "" {
		return fmt.Errorf("%w to %s", client.ErrNotLoggedIn, s.url)
	}
	claims, err := client.ReadTokenClaims(token)
	if err != nil {
		return fmt.Errorf("the saved token is unreadable (%v): log in again", err)
	}
	source := s.store.path()
	if c.getenv(envToken) != "" {
		source = "$" + envToken
	}
	expired := !claims.ExpiresAt.IsZero() && time.Now().After(claims.ExpiresAt)
	out := map[string]any{"registry": s.url, "user": claims.Subject, "expires_at": claims.ExpiresAt, "expired": expired, "token_from": source}
	if err := c.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "%s at %s, token from %s, valid until %s\n", claims.Subject, s.url, source, claims.ExpiresAt.Local().Format(time.DateTime))
	}); err != nil {
		return err
	}
	if expired {
		return fmt.Errorf("%w: the token expired at %s", client.ErrForbidden, claims.ExpiresAt.Local().Format(time.DateTime))
	}
	return nil
}

func packageText(p client.Package) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "%s %s\nsha256 %s\nsize   %d bytes\n", p.Name, p.Version, p.SHA256, p.Size)
	}
}

func (c *cli) push(fs *flag.FlagSet, args []string) error {
	declared := fs.String("sha256", "", "the SHA-256 the content must have (default: computed and declared)")
	presigned := fs.Bool("presigned", false, "send the bytes straight to the blob store through a presigned URL (aws backend)")
	pos, err := parse(fs, args, 3, 3)
	if err != nil {
		return err
	}
	name, version, path := pos[0], pos[1], pos[2]
	s, err := c.session()
	if err != nil {
		return err
	}
	var body io.Reader
	size := int64(-1)
	if path == "-" {
		body = c.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		body, size = f, fi.Size()
	}
	report, done := c.progress("push " + name + " " + version)
	opts := &client.PushOptions{SHA256: *declared, Progress: report}
	var pkg client.Package
	if *presigned {
		rs, ok := body.(io.ReadSeeker)
		if path == "-" || !ok {
			return usagef("push --presigned needs a file, not stdin")
		}
		pkg, err = s.client.PushPresigned(context.Background(), name, version, rs, opts)
	} else {
		pkg, err = s.client.Push(context.Background(), name, version, body, size, opts)
	}
	done()
	if err != nil {
		return err
	}
	return c.print(pkg, packageText(pkg))
}

func (c *cli) pull(fs *flag.FlagSet, args []string) error {
	output := fs.String("o", "", "file to write (default NAME-VERSION; - for stdout, verified only at the end)")
	expected := fs.String("sha256", "", "the SHA-256 you expect; anything else is refused")
	presigned := fs.Bool("presigned", false, "fetch the bytes straight from the blob store through a presigned URL (aws backend)")
	pos, err := parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	name, version := pos[0], pos[1]
	dest := *output
	if dest == "" {
		dest = name + "-" + version
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	ctx := context.Background()
	report, done := c.progress("pull " + name + " " + version)
	defer done()
	opts := &client.DownloadOptions{SHA256: *expected, Progress: report}
	if dest == "-" {
		return c.pullToStdout(ctx, s, name, version, *presigned, opts)
	}
	var got client.Pulled
	if *presigned {
		got, err = s.client.PullPresigned(ctx, name, version, dest, opts)
	} else {
		got, err = s.client.Pull(ctx, name, version, dest, opts)
	}
	done()
	if err != nil {
		return err
	}
	return c.print(got, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s -> %s\nsha256 %s (verified)\nsize   %d bytes\n", name, version, got.Path, got.SHA256, got.Size)
	})
}

// pullToStdout streams a download to stdout; its verification can only fail after
// the bytes went out, which the error says.
func (c *cli) pullToStdout(ctx context.Context, s *session, name, version string, presigned bool, opts *client.DownloadOptions) error {
	var v *client.Verifier
	var err error
	if presigned {
		var p client.PresignedURL
		if p, err = s.client.DownloadURL(ctx, name, version, true); err == nil {
			v, err = s.client.OpenURL(ctx, p, opts)
		}
	} else {
		v, err = s.client.Open(ctx, name, version, opts)
	}
	if err != nil {
		return err
	}
	defer v.Close()
	if _, err := io.Copy(c.stdout, v); err != nil {
		if errors.Is(err, client.ErrIntegrity) {
			return fmt.Errorf("%w - the bytes already written to stdout are NOT the package: discard them", err)
		}
		return err
	}
	return nil
}

func (c *cli) ls(fs *flag.FlagSet, args []string) error {
	offset := fs.Int("offset", 0, "first entry of the page")
	limit := fs.Int("limit", 100, "entries per page (1-1000)")
	all := fs.Bool("all", false, "every entry, page after page")
	pos, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > 1000 || *offset < 0 {
		return usagef("ls: --limit must be 1-1000 and --offset at least 0")
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	opts := client.ListOptions{Offset: *offset, Limit: *limit}
	if len(pos) == 1 {
		opts.Name = pos[0]
	}
	ctx := context.Background()
	var page client.Page
	if *all {
		for p, err := range s.client.All(ctx, opts) {
			if err != nil {
				return err
			}
			page.Packages = append(page.Packages, p)
		}
		page.Total, page.Offset, page.Limit = len(page.Packages)+opts.Offset, opts.Offset, len(page.Packages)
	} else if page, err = s.client.List(ctx, opts); err != nil {
		return err
	}
	if page.Packages == nil {
		page.Packages = []client.Package{}
	}
	return c.print(page, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVERSION\tSIZE\tSHA256\tUPLOADED\tUPLOADER")
		for _, p := range page.Packages {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", p.Name, p.Version, p.Size, p.SHA256, p.UploadedAt.Local().Format(time.DateTime), p.Uploader)
		}
		tw.Flush()
		if page.HasNext {
			fmt.Fprintf(c.stderr, "(%d-%d of %d: --offset %d for the next page, or --all)\n", page.Offset+1, page.Offset+len(page.Packages), page.Total, page.NextOffset)
		}
	})
}

func (c *cli) url(fs *flag.FlagSet, args []string) error {
	noVerify := fs.Bool("no-verify", false, "do not have the registry check the store's checksum first")
	upload := fs.String("upload", "", "instead: a presigned upload request for this file")
	pos, err := parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	name, version := pos[0], pos[1]
	s, err := c.session()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if *upload == "" {
		p, err := s.client.DownloadURL(ctx, name, version, !*noVerify)
		if err != nil {
			return err
		}
		return c.print(p, func(w io.Writer) { fmt.Fprintln(w, p.URL) })
	}
	f, err := os.Open(*upload)
	if err != nil {
		return err
	}
	defer f.Close()
	sum, size, err := client.Digest(f)
	if err != nil {
		return err
	}
	req, err := s.client.UploadURL(ctx, name, version, sum, size)
	if err != nil {
		return err
	}
	return c.print(req, func(w io.Writer) {
		fmt.Fprintf(w, "upload id %s (valid until %s)\n%s %s\n", req.UploadID, req.ExpiresAt.Local().Format(time.DateTime), req.Method, req.URL)
		for k, v := range req.Headers {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
		fmt.Fprintf(w, "then: acme-registry commit %s %s %s\n", name, version, req.UploadID)
	})
}

func (c *cli) commit(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args, 3, 3)
	if err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	pkg, err := s.client.Commit(context.Background(), pos[0], pos[1], pos[2])
	if err != nil {
		return err
	}
	return c.print(pkg, packageText(pkg))
}

func (c *cli) rm(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	pkg, err := s.client.Delete(context.Background(), pos[0], pos[1])
	if err != nil {
		return err
	}
	return c.print(pkg, func(w io.Writer) { fmt.Fprintf(w, "Deleted %s %s (sha256 %s).\n", pkg.Name, pkg.Version, pkg.SHA256) })
}
