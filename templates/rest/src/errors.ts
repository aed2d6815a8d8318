/**
 * specimen's failures. They cross the wire as the contract's error bodies, so the domain fails
 * with the contract's own classes.
 */
export { InvalidRequest } from "@platform/contracts/ErrorBody"
