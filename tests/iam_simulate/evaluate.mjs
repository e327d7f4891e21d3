// Decides IAM requests with @cloud-copilot/iam-simulate: a second evaluator beside principalmapper
// for tests/test_access_crosscheck.py.
//
// stdin: a JSON list of requests, each
//   {"principal": ARN, "identityPolicies": [{"name", "policy"}], "resourcePolicy": document or null,
//    "resourceAccount": account ID, "action": "service:Action", "resource": ARN or "*",
//    "context": {key: value}, "permissionBoundaries"?: [{"name", "policy"}],
//    "serviceControlPolicies"?: [{"orgIdentifier", "policies": [{"name", "policy"}]}]}
// stdout: a JSON list, one entry per request in the same order, each
//   {"decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", "validated": bool,
//    "ignoredContextKeys": [...]} or {"error": {...}}.
//
// Every request is first run with validation (policies, action, resource type, context keys). The
// proof also asks actions on resources they never act on (DeleteDomain on a package ARN); AWS never
// receives such a request, so validation answers "no.resource.types" (or "must.use.wildcard" for an
// action on no resource), and only then is the request decided by the policy language alone
// (runUnsafeSimulation, "validated": false), after validating its policies here. Any other
// validation error is returned as an error, for the caller to fail on.
import {
  createValidatedPolicy,
  validateIdentityPolicy,
  validateResourcePolicy,
  validateServiceControlPolicy
} from '@cloud-copilot/iam-policy'
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

// The action acts on no resource of this type, or on no resource at all (only "*").
const ACTION_NOT_ON_RESOURCE = new Set(['no.resource.types', 'must.use.wildcard'])

function simulationOf(request) {
  return {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: request.context ?? {}
    },
    identityPolicies: request.identityPolicies,
    serviceControlPolicies: request.serviceControlPolicies ?? [],
    resourceControlPolicies: [],
    ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
    ...(request.permissionBoundaries ? { permissionBoundaryPolicies: request.permissionBoundaries } : {})
  }
}

// Which (action, resource) pairs validation refused as above: that depends on nothing else, and
// matching a resource against the action's resource types is most of the time a request takes.
const notOnResource = new Set()

async function decide(request) {
  const simulation = simulationOf(request)
  const pair = `${request.action} ${request.resource}`
  if (notOnResource.has(pair)) return decideUnvalidated(simulation)
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'single') {
    return {
      decision: response.overallResult,
      validated: true,
      ignoredContextKeys: response.result.ignoredContextKeys ?? []
    }
  }
  if (response.resultType === 'error' && ACTION_NOT_ON_RESOURCE.has(response.errors.message)) {
    notOnResource.add(pair)
    return decideUnvalidated(simulation)
  }
  // A wildcard resource would be several simulations: the proof asks about one resource at a time.
  return { error: response.resultType === 'error' ? response.errors : { message: `result ${response.resultType}` } }
}

// runUnsafeSimulation validates nothing, so every policy is validated here as runSimulation would;
// it also needs the resource policy's name from a validated policy's metadata (a raw document has none).
function decideUnvalidated(simulation) {
  const named = (kind, validate) => ({ name, policy }) =>
    createValidatedPolicy(policy, validate, { name: `${kind} ${name}` })
  const resourcePolicy = simulation.resourcePolicy
    ? createValidatedPolicy(simulation.resourcePolicy, validateResourcePolicy, { name: 'resource policy' })
    : undefined
  const policies = [
    ...simulation.identityPolicies.map(named('identity policy', validateIdentityPolicy)),
    ...(simulation.permissionBoundaryPolicies ?? []).map(named('permission boundary', validateIdentityPolicy)),
    ...simulation.serviceControlPolicies.flatMap((level) =>
      level.policies.map(named(`SCP of ${level.orgIdentifier}`, validateServiceControlPolicy))
    ),
    ...(resourcePolicy ? [resourcePolicy] : [])
  ]
  const errors = policies.flatMap((p) => p.errors.map((error) => ({ policy: p.metadata.name, ...error })))
  if (errors.length > 0) return { error: { message: 'policy.errors', errors } }
  const decision = runUnsafeSimulation({ ...simulation, resourcePolicy }, {})
  return { decision, validated: false, ignoredContextKeys: [] }
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

const requests = JSON.parse(await readStdin())
if (!Array.isArray(requests)) throw new Error('stdin must hold a JSON list of requests')
const decisions = []
for (const request of requests) decisions.push(await decide(request))
process.stdout.write(JSON.stringify(decisions))
