import { onboardPrompt } from "./onboard.js";

export const allPrompts = [onboardPrompt];
