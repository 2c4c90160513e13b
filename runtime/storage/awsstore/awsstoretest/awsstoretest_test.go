package awsstoretest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/test/emulator"
)

// The tables Resources creates are the contract's: key, attribute types,
// indexes (all attributes projected) and TTL attribute.
func TestResourcesAreTheContractTables(t *testing.T) {
	ctx := context.Background()
	env := awsstoretest.New(t, emulator.Start(t))
	res, err := env.Resources(ctx)
	require.NoError(t, err)
	for _, tbl := range contract.Tables() {
		name := res.Tables.Get(tbl.Kind)
		out, err := env.DDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		require.NoError(t, err, tbl.Kind)
		d := out.Table
		assert.Equal(t, []ddbtypes.KeySchemaElement{{AttributeName: aws.String(tbl.Hash.Name), KeyType: ddbtypes.KeyTypeHash}}, d.KeySchema, tbl.Kind)
		var attrs []contract.Attribute
		for _, a := range d.AttributeDefinitions {
			attrs = append(attrs, contract.Attribute{Name: aws.ToString(a.AttributeName), Type: contract.AttributeType(a.AttributeType)})
		}
		assert.ElementsMatch(t, tbl.Attributes(), attrs, tbl.Kind)
		var indexes []contract.Index
		for _, ix := range d.GlobalSecondaryIndexes {
			require.Len(t, ix.KeySchema, 2, tbl.Kind)
			assert.Equal(t, ddbtypes.ProjectionTypeAll, ix.Projection.ProjectionType, tbl.Kind)
			typeOf := func(n string) contract.AttributeType {
				for _, a := range attrs {
					if a.Name == n {
						return a.Type
					}
				}
				return ""
			}
			hash, rng := aws.ToString(ix.KeySchema[0].AttributeName), aws.ToString(ix.KeySchema[1].AttributeName)
			assert.Equal(t, ddbtypes.KeyTypeRange, ix.KeySchema[1].KeyType, tbl.Kind)
			indexes = append(indexes, contract.Index{Name: aws.ToString(ix.IndexName),
				Hash: contract.Attribute{Name: hash, Type: typeOf(hash)}, Range: contract.Attribute{Name: rng, Type: typeOf(rng)}})
		}
		assert.ElementsMatch(t, tbl.Indexes, indexes, tbl.Kind)

		ttl, err := env.DDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
		require.NoError(t, err, tbl.Kind)
		if tbl.TTL == "" {
			assert.NotEqual(t, ddbtypes.TimeToLiveStatusEnabled, ttl.TimeToLiveDescription.TimeToLiveStatus, tbl.Kind)
		} else {
			assert.Equal(t, ddbtypes.TimeToLiveStatusEnabled, ttl.TimeToLiveDescription.TimeToLiveStatus, tbl.Kind)
			assert.Equal(t, tbl.TTL, aws.ToString(ttl.TimeToLiveDescription.AttributeName), tbl.Kind)
		}
	}
}
