// Evaluates AWS requests against IAM policies with @cloud-copilot/iam-simulate, offline.
// Reads a JSON array of simulations on stdin:
//   {name, principal, action, resource, account, context, identityPolicies: [{name, policy}],
//    resourcePolicy}
// and writes a JSON array of decisions, in the same order:
//   {name, result: "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", grants, denials,
//    ignoredContextKeys, error}
// where grants and denials name the policies and statements that decided.
//
// runSimulation validates each simulation (policies, action, resource type, context keys)
// and decides it - but its context check drops every kms:EncryptionContext:<key>
// variable (it only knows variable keys of the form prefix/<name>, such as
// aws:PrincipalTag/<tag>), so a key policy conditioned on an encryption context, as
// CloudTrail's and CloudWatch Logs' statements are, would never match. The decision is
// therefore made with the library's own authorize() on the context runSimulation keeps
// plus those encryption-context keys; everything else is exactly runSimulation's.
import { getDenialReasons, getGrantReasons, runSimulation } from '@cloud-copilot/iam-simulate';
import { loadPolicy } from '@cloud-copilot/iam-policy';

const engine = new URL('./node_modules/@cloud-copilot/iam-simulate/dist/esm/', import.meta.url);
const { authorize } = await import(new URL('core_engine/CoreSimulatorEngine.js', engine));
const { AwsRequestImpl } = await import(new URL('request/request.js', engine));
const { RequestContextImpl } = await import(new URL('requestContext.js', engine));
const { DiscoveryContextKeyConstraints } = await import(new URL('context_keys/discoveryContextKeyConstraints.js', engine));
const { normalizeSimulationParameters } = await import(new URL('simulation_engine/simulationEngine.js', engine));
const { isWildcardOnlyAction } = await import(new URL('util.js', engine));

const encryptionContext = /^kms:EncryptionContext:.+$/i;

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const simulations = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const decisions = [];
for (const s of simulations) {
  const simulation = {
    request: {
      principal: s.principal,
      action: s.action,
      resource: { resource: s.resource, accountId: s.account },
      contextVariables: s.context ?? {},
    },
    identityPolicies: s.identityPolicies ?? [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: s.resourcePolicy ?? undefined,
  };
  const checked = await runSimulation(simulation, {});
  if (checked.resultType !== 'single') {
    decisions.push({ name: s.name, error: JSON.stringify(checked.errors ?? checked.resultType) });
    continue;
  }
  const { validContextValues } = await normalizeSimulationParameters(simulation, undefined);
  for (const [key, value] of Object.entries(simulation.request.contextVariables)) {
    if (encryptionContext.test(key)) validContextValues[key] = [value].flat()[0];
  }
  const [service, action] = s.action.split(':');
  const analysis = authorize({
    request: new AwsRequestImpl(s.principal, { resource: s.resource, accountId: s.account }, s.action,
      new RequestContextImpl(validContextValues), await isWildcardOnlyAction(service, action)),
    sessionPolicy: undefined,
    identityPolicies: simulation.identityPolicies.map((p) => loadPolicy(p.policy, { name: p.name })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: s.resourcePolicy ? loadPolicy(s.resourcePolicy, { name: '' }) : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: {} },
  });
  decisions.push({
    name: s.name,
    result: analysis.result,
    grants: getGrantReasons(analysis),
    denials: getDenialReasons(analysis),
    ignoredContextKeys: (checked.result.ignoredContextKeys ?? []).filter((k) => !encryptionContext.test(k)),
  });
}
process.stdout.write(JSON.stringify(decisions));
