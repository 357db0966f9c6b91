import { organizationsResource } from "./organizations.js";
import { userResource } from "./user.js";

export const fixedResources = [userResource];
export const templateResources = [organizationsResource];
