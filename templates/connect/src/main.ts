import * as Main from "@platform/shared/Main"
import * as Server from "@platform/shared/Server"
import * as App from "./App.ts"

Main.run(App.defaults, App.layer(Server.layer))
