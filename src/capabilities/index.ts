/**
 * Capabilities: the resource grammar now; signed tokens, attenuation and the full gate
 * arrive with the authority issue. One way in.
 */
export {parseResource, pathSegments, pathMatches, kvMatches, resourceAllows, RESOURCE_TYPES, type Resource, type ResourceType} from './resource.js';
