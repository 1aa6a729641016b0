import * as z from 'zod/v4';
import { DeploymentStatus, ModelApprovalStatus } from '@aion/contracts';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { route, type Route } from '../routing/route';
import {
  complianceJson,
  deploymentJson,
  modelJson,
  num,
  page,
  pageRequest,
  type SovereignClient,
} from './sovereign-json';
import type { SovereignSchemas } from './sovereign-schemas';

const BASE = '/api/v1/sovereign';

/** Regional deployments, compliance maps and the model registry of /api/v1/sovereign. */
export function deploymentRoutes(
  sovereign: SovereignClient,
  s: SovereignSchemas,
  jurisdictions: JurisdictionRegistry,
  requestTimeoutMs: number,
): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const tag = 'sovereignty';
  const read = 'platform:read' as const;
  const manage = 'sovereign:manage' as const;
  const WithManifests = z.object({ deployment: s.Deployment, manifests: s.Manifests });
  const modelLink = { operationId: 'getModel', parameters: { id: '$response.body#/id' } };
  const decide = (verb: 'approve' | 'reject' | 'revoke') =>
    route({
      method: 'post',
      path: `${BASE}/registry/models/{id}/${verb}`,
      operationId: `${verb}Model`,
      summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} a model for its jurisdiction`,
      tag: 'models',
      access: 'models:approve',
      request: { path: s.IdPath, body: s.ModelDecisionRequest, bodyOptional: true },
      responses: { 200: { description: 'The model', schema: s.Model } },
      errors: [404, 409],
      async handle({ path, body }) {
        const request = { id: path.id, reason: body.reason };
        const { model } =
          verb === 'approve'
            ? await sovereign.approveModel(request, o)
            : verb === 'reject'
              ? await sovereign.rejectModel(request, o)
              : await sovereign.revokeModel(request, o);
        return { status: 200, body: modelJson(model) };
      },
    });

  return [
    route({
      method: 'post',
      path: `${BASE}/deploy/regional`,
      operationId: 'deployRegional',
      summary: "Deploy an approved model in a jurisdiction's region (Kubernetes manifests)",
      tag,
      access: manage,
      request: { body: s.DeployRegionalRequest },
      responses: {
        202: { description: 'Accepted; manifests rendered or applied', schema: WithManifests },
      },
      errors: [403, 404, 409],
      links: {
        GetDeployment: {
          operationId: 'getRegionalDeployment',
          parameters: { id: '$response.body#/deployment/id' },
        },
        SetDeploymentStatus: {
          operationId: 'updateDeploymentStatus',
          parameters: { id: '$response.body#/deployment/id' },
        },
      },
      async handle({ body }) {
        const r = await sovereign.deployRegional(
          {
            jurisdiction: body.jurisdiction,
            region: body.region,
            modelId: body.model_id,
            modelVersion: body.model_version,
            image: body.image,
            replicas: body.replicas,
          },
          o,
        );
        return {
          status: 202,
          headers: { Location: `${BASE}/deployments/${r.deployment?.id}` },
          body: { deployment: deploymentJson(r.deployment), manifests: r.manifests },
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/regions`,
      operationId: 'listRegionalDeployments',
      summary: 'Region codes with their countries, and the regional deployments',
      tag,
      access: read,
      request: { query: s.RegionListQuery },
      responses: {
        200: {
          description: 'Regions and a page of deployments',
          schema: z.object({
            region_codes: z.record(z.string(), z.array(z.string())),
            data: z.array(s.Deployment),
            ...s.Page,
          }),
        },
      },
      async handle({ query }) {
        const r = await sovereign.listRegionalDeployments(
          { ...pageRequest(query), jurisdiction: query.jurisdiction ?? '' },
          o,
        );
        return {
          status: 200,
          body: {
            region_codes: Object.fromEntries(
              jurisdictions
                .regionCodes()
                .map((code) => [code, [...jurisdictions.countriesOf(code)].sort()]),
            ),
            data: r.deployments.map(deploymentJson),
            ...page(r.page),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/deployments/{id}`,
      operationId: 'getRegionalDeployment',
      summary: 'One regional deployment with its manifests',
      tag,
      access: read,
      request: { path: s.IdPath },
      responses: { 200: { description: 'The deployment', schema: WithManifests } },
      errors: [404],
      async handle({ path }) {
        const r = await sovereign.getRegionalDeployment({ id: path.id }, o);
        return {
          status: 200,
          body: { deployment: deploymentJson(r.deployment), manifests: r.manifests },
        };
      },
    }),
    route({
      method: 'post',
      path: `${BASE}/deployments/{id}/status`,
      operationId: 'updateDeploymentStatus',
      summary: 'Mark a deployment active, failed or decommissioned',
      tag,
      access: manage,
      request: { path: s.IdPath, body: s.DeploymentStatusRequest },
      responses: { 200: { description: 'The deployment', schema: s.Deployment } },
      errors: [404, 409],
      async handle({ path, body }) {
        const r = await sovereign.updateDeploymentStatus(
          { id: path.id, status: num(DeploymentStatus, body.status), reason: body.reason },
          o,
        );
        return { status: 200, body: deploymentJson(r.deployment) };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/compliance/{jurisdiction}`,
      operationId: 'getCompliance',
      summary: 'The regulations and transfer rules of a jurisdiction',
      tag,
      access: read,
      request: { path: s.JurisdictionPath },
      responses: {
        200: {
          description: 'The compliance map',
          schema: s.Compliance.extend({ from_cache: z.boolean() }),
        },
      },
      errors: [404],
      async handle({ path }) {
        const r = await sovereign.getCompliance({ jurisdiction: path.jurisdiction }, o);
        return { status: 200, body: { ...complianceJson(r.compliance), from_cache: r.fromCache } };
      },
    }),
    route({
      method: 'put',
      path: `${BASE}/compliance/{jurisdiction}`,
      operationId: 'putCompliance',
      summary: "Replace a jurisdiction's compliance map (your tenant's override)",
      tag,
      access: manage,
      request: { path: s.JurisdictionPath, body: s.ComplianceOverrideRequest },
      responses: { 200: { description: 'The compliance map', schema: s.Compliance } },
      async handle({ path, body }) {
        const r = await sovereign.putCompliance(
          {
            compliance: {
              jurisdiction: path.jurisdiction,
              adequateJurisdictions: body.adequate_jurisdictions,
              regulations: body.regulations.map((g) => ({
                name: g.name,
                sources: g.sources,
                requirements: {
                  localizationRequired: g.localization_required,
                  transferMechanisms: g.transfer_mechanisms,
                  encryptionAtRest: g.encryption_at_rest,
                  encryptionInTransit: g.encryption_in_transit,
                  retentionDays: g.retention_days,
                },
              })),
            },
          },
          o,
        );
        return { status: 200, body: complianceJson(r.compliance) };
      },
    }),
    route({
      method: 'post',
      path: `${BASE}/registry/models`,
      operationId: 'registerModel',
      summary: 'Register a model for approval in a jurisdiction',
      tag: 'models',
      access: 'models:register',
      request: { body: s.RegisterModelRequest },
      responses: { 201: { description: 'The model (PENDING)', schema: s.Model } },
      errors: [409],
      links: {
        GetModel: modelLink,
        ApproveModel: { ...modelLink, operationId: 'approveModel' },
      },
      async handle({ body }) {
        const { model } = await sovereign.registerModel(
          {
            modelRef: body.model_ref,
            name: body.name,
            version: body.version,
            jurisdiction: body.jurisdiction,
          },
          o,
        );
        return {
          status: 201,
          headers: { Location: `${BASE}/registry/models/${model?.id}` },
          body: modelJson(model),
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/registry/models`,
      operationId: 'listModels',
      summary: 'Registered models',
      tag: 'models',
      access: read,
      request: { query: s.ModelListQuery },
      responses: {
        200: {
          description: 'A page of models',
          schema: z.object({ data: z.array(s.Model), ...s.Page }),
        },
      },
      async handle({ query }) {
        const r = await sovereign.listModels(
          {
            ...pageRequest(query),
            jurisdiction: query.jurisdiction ?? '',
            status: query.status ? num(ModelApprovalStatus, query.status) : 0,
          },
          o,
        );
        return { status: 200, body: { data: r.models.map(modelJson), ...page(r.page) } };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/registry/models/{id}`,
      operationId: 'getModel',
      summary: 'One registered model',
      tag: 'models',
      access: read,
      request: { path: s.IdPath },
      responses: { 200: { description: 'The model', schema: s.Model } },
      errors: [404],
      async handle({ path }) {
        return {
          status: 200,
          body: modelJson((await sovereign.getModel({ id: path.id }, o)).model),
        };
      },
    }),
    decide('approve'),
    decide('reject'),
    decide('revoke'),
  ];
}
