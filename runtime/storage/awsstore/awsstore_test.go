package awsstore_test

import (
	"os"
	"testing"

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/runtime/storage/storagetest"
)

var env *awsstoretest.Env

func TestMain(m *testing.M) { os.Exit(awsstoretest.Main(m, &env)) }

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		st, _ := env.NewStore(t, nil)
		return st.Backend()
	})
}
