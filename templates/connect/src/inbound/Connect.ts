import { SpecimenService } from "@platform/proto-compat/specimen/v1"
import * as Connect from "@platform/shared/Connect"
import { Effect } from "effect"
import { Entries } from "../Entries.ts"

/** `specimen.v1.SpecimenService` over Connect, gRPC and gRPC-Web: the domain's errors as codes. */
export const SpecimenConnect = Connect.layer({
  service: SpecimenService,
  handlers: {
    createEntry: (request) => Effect.flatMap(Entries, (entries) => entries.create(request.text)),
  },
  toError: (error) => ({ code: "invalid_argument", message: error.message }),
})
