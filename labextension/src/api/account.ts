/** `account` routes of the analytics REST API and the shapes they answer with. */
import { AreaAPI } from './base';

export class AccountAPI extends AreaAPI {}
