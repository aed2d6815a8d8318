import { TransportProvider, useMutation } from "@connectrpc/connect-query"
import { invokeCustom } from "@platform/proto-compat/gateway/v1/query"
import { greet } from "@platform/proto-compat/greeter/v1/query"

/**
 * The console's Connect calls, as TanStack Query mutations over the transport the provider
 * gives (Connect JSON to the edge, the session's token attached): the only Connect the
 * components see.
 */
export const useGreet = () => useMutation(greet)

export const useInvokeCustom = () => useMutation(invokeCustom)

export { TransportProvider }
