import { fileURLToPath } from 'url';
import path from 'path';
import events from './src/events';
import userschema from './src/develop/nick/src/constants/userschema';

const __dirname = path.dirname(fileURLToPath(import.meta.url));

const {
  ALLOWED_ORIGINS,
  API_RATE_LIMIT,
  AUTH_RATE_LIMIT,
  DB_HOST,
  DB_PORT,
  DB_USER,
  DB_PASSWORD,
  DB_NAME,
  SECRET,
  TRUST_PROXY,
} = process.env;

export const config = {
  connection: {
    port: DB_PORT || 5432,
    host: DB_HOST || 'localhost',
    database: DB_NAME || 'nick',
    user: DB_USER || 'nick',
    password: DB_PASSWORD || 'nick',
  },
  blobs: 'file',
  blobsDir: `${__dirname}/var/blobstorage`,
  localesDir: `${__dirname}/src/develop/nick/locales`,
  port: Number(process.env.PORT) || 8080,
  secret: SECRET || 'secret',
  systemUsers: ['admin', 'anonymous'],
  systemGroups: ['Owner'],
  cors: {
    allowOrigin: ALLOWED_ORIGINS || 'http://localhost:3000',
    allowMethods: 'GET,POST,PUT,PATCH,DELETE,OPTIONS',
    allowHeaders: 'Content-Type,Authorization,Accept',
    allowCredentials: true,
    exposeHeaders: 'Content-Length,Content-Type',
    maxAge: 3600,
  },
  imageScales: {
    large: [768, 768],
    preview: [400, 400],
    mini: [200, 200],
    thumb: [128, 128],
    tile: [64, 64],
    icon: [32, 32],
    listing: [16, 16],
  },
  frontendUrl: 'http://localhost:3000',
  prefix: '',
  userRegistration: false,
  profiles: [
    `${__dirname}/src/develop/nick/src/profiles/core`,
    /* `${__dirname}/src/develop/nick/src/profiles/ai`, */
    `${__dirname}/src/develop/nick/src/profiles/default`,
    `${__dirname}/src/profiles/jobs`,
  ],
  requestLimit: {
    api: '1mb',
    files: '10mb',
  },
  rateLimit: {
    api: API_RATE_LIMIT || 100,
    auth: AUTH_RATE_LIMIT || 5,
    trustProxy: TRUST_PROXY || 1,
  },
  events,
  routes: true,
  tasks: true,
  cache: {
    enabled: false,
    anonymousOnly: true,
    etag: false,
    xkeys: false,
    purge: {
      enabled: false,
      urls: ['http://localhost:9000'],
    },
    policies: {
      alter: {
        method: 'no-cache',
      },
      manage: {
        method: 'no-cache',
      },
      content: {
        method: 'no-cache',
      },
      dynamic: {
        method: 'public',
        maxAge: 10,
        sMaxAge: 0,
      },
      resource: {
        method: 'public',
        maxAge: 86400,
        sMaxAge: 0,
      },
      stable: {
        method: 'public',
        maxAge: 31536000,
        sMaxAge: 0,
      },
      static: {
        method: 'public',
        maxAge: 31536000,
        sMaxAge: 0,
      },
    },
  },
  ai: {
    models: {
      embed: {
        name: 'nomic-embed-text',
        api: 'http://localhost:11434/api/embed',
        dimensions: 768,
        minSimilarity: 0.5,
        enabled: false,
      },
      llm: {
        name: 'qwen3',
        api: 'http://localhost:11434/api/chat',
        contextSize: 10,
        enabled: false,
      },
      vision: {
        name: 'llava',
        api: 'http://localhost:11434/api/generate',
        enabled: false,
      },
    },
  },
  userschema,
};
